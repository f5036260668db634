"""PostgreSQL client_encoding names → Python codec names."""

from __future__ import annotations

_PG_TO_PY = {
    "UTF8": "utf-8",
    "UNICODE": "utf-8",
    "SQL_ASCII": "latin-1",  # bytes pass through; latin-1 decodes any byte losslessly
    "LATIN1": "latin-1",
    "LATIN2": "iso8859-2",
    "LATIN3": "iso8859-3",
    "LATIN4": "iso8859-4",
    "LATIN5": "iso8859-9",
    "LATIN6": "iso8859-10",
    "LATIN7": "iso8859-13",
    "LATIN8": "iso8859-14",
    "LATIN9": "iso8859-15",
    "LATIN10": "iso8859-16",
    "WIN1250": "cp1250",
    "WIN1251": "cp1251",
    "WIN1252": "cp1252",
    "WIN1253": "cp1253",
    "WIN1254": "cp1254",
    "WIN1255": "cp1255",
    "WIN1256": "cp1256",
    "WIN1257": "cp1257",
    "WIN1258": "cp1258",
    "WIN866": "cp866",
    "WIN874": "cp874",
    "KOI8R": "koi8-r",
    "KOI8U": "koi8-u",
    "EUC_JP": "euc-jp",
    "EUC_KR": "euc-kr",
    "EUC_CN": "gb2312",
    "GBK": "gbk",
    "GB18030": "gb18030",
    "BIG5": "big5",
    "SJIS": "shift-jis",
    "UHC": "cp949",
    "ISO_8859_5": "iso8859-5",
    "ISO_8859_6": "iso8859-6",
    "ISO_8859_7": "iso8859-7",
    "ISO_8859_8": "iso8859-8",
}


def python_codec(pg_name: str) -> str:
    """The Python codec for a PostgreSQL encoding; utf-8 for names this table lacks."""
    return _PG_TO_PY.get(pg_name.upper().replace("-", "_"), "utf-8")


# Codecs in which a byte below 0x80 is always that ASCII character: not those whose
# multibyte characters may end in one (Shift-JIS, Big5, GBK, GB18030, UHC).
ASCII_TRANSPARENT = frozenset(_PG_TO_PY.values()) - {
    "shift-jis",
    "big5",
    "gbk",
    "gb18030",
    "cp949",
}
