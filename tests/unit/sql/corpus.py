"""Reader for the SQL corpus files in tests/corpora/sql (format: docs/sql-analysis.md).

    --- case: cte-delete
    --- expect: operation=select effects=select,delete writes=customers complete=true
    WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d;

A case starts at a ``--- case: <name>`` line. Directive lines (``--- <key>: <value>``) follow
it; the statement is every line after them up to the next ``--- case:`` line, without
leading and trailing blank lines, so it may span lines and hold semicolons, comments and
dollar quotes. Lines before the first case are the file's commentary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CORPORA = Path(__file__).resolve().parents[2] / "corpora" / "sql"

SET_KEYS = frozenset(
    {"effects", "writes", "reads", "functions", "unfiltered", "settings", "features"}
)
SCALAR_KEYS = frozenset({"operation", "complete", "count"})
DIRECTIVES = frozenset({"expect", "note", "redacted", "absent", "prepared", "session"})
SESSION_KEYS = frozenset({"standard_conforming_strings"})
REQUIRED = ("operation", "complete")


class CorpusError(ValueError):
    pass


@dataclass
class Case:
    file: str
    name: str
    line: int
    sql: str = ""
    exact: dict[str, frozenset[str]] = field(default_factory=dict)  # key=a,b
    includes: dict[str, frozenset[str]] = field(default_factory=dict)  # key+=a,b
    scalars: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    redacted: str | None = None
    absent: list[str] = field(default_factory=list)
    prepared: dict[str, str] = field(default_factory=dict)
    session: dict[str, bool] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.file}:{self.name}"


def _values(text: str) -> frozenset[str]:
    return frozenset() if text == "-" else frozenset(v for v in text.split(",") if v)


def _expect(case: Case, text: str, where: str) -> None:
    for item in text.split():
        key, plus, value = item.partition("+=")
        if not plus:
            key, eq, value = item.partition("=")
            if not eq:
                raise CorpusError(f"{where}: expected key=value or key+=value, got {item!r}")
        if key in SET_KEYS:
            target = case.includes if plus else case.exact
            if key in target:
                raise CorpusError(f"{where}: {key} given twice")
            target[key] = _values(value)
        elif key in SCALAR_KEYS and not plus:
            if key in case.scalars:
                raise CorpusError(f"{where}: {key} given twice")
            if key == "complete" and value not in ("true", "false"):
                raise CorpusError(f"{where}: complete must be true or false")
            if key == "count" and not value.isdigit():
                raise CorpusError(f"{where}: count must be a number")
            case.scalars[key] = value
        else:
            raise CorpusError(f"{where}: unknown expectation {key!r}")


def parse_corpus(text: str, file: str) -> list[Case]:
    cases: list[Case] = []
    current: Case | None = None
    in_header = False
    body: list[str] = []

    def finish() -> None:
        if current is None:
            return
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        current.sql = "\n".join(body)
        where = f"{file}:{current.line} ({current.name})"
        # an empty statement is a legitimate case only when asked for explicitly (count=0)
        if not current.sql.strip() and current.scalars.get("count") != "0":
            raise CorpusError(f"{where}: no statement")
        for key in REQUIRED:
            if key not in current.scalars:
                raise CorpusError(f"{where}: every case must expect {key}")
        cases.append(current)

    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{file}:{number}"
        if line.startswith("--- case:"):
            finish()
            name = line[len("--- case:") :].strip()
            if not name or any(c.isspace() for c in name):
                raise CorpusError(f"{where}: case name must be one word")
            current, in_header, body = Case(file, name, number), True, []
            continue
        if current is None:
            if line.strip() and not line.startswith("--"):
                raise CorpusError(f"{where}: text before the first case must be comments")
            continue
        if in_header and line.startswith("--- "):
            key, colon, value = line[4:].partition(":")
            key, value = key.strip(), value.strip()
            directive, _, argument = key.partition(" ")
            if not colon or directive not in DIRECTIVES:
                raise CorpusError(f"{where}: unknown directive {line!r}")
            if directive == "expect":
                _expect(current, value, where)
            elif directive == "note":
                current.notes.append(value)
            elif directive == "redacted":
                current.redacted = line[4:].partition(":")[2][1:]
            elif directive == "absent":
                current.absent.append(value)
            elif directive == "session":
                name, _, setting = value.partition("=")
                if name not in SESSION_KEYS or setting not in ("on", "off"):
                    raise CorpusError(f"{where}: session takes {sorted(SESSION_KEYS)}=on|off")
                current.session[name] = setting == "on"
            else:
                if not argument:
                    raise CorpusError(f"{where}: prepared needs a name: --- prepared p: SQL")
                current.prepared[argument] = value
            continue
        in_header = False
        body.append(line)
    finish()
    names = [c.name for c in cases]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise CorpusError(f"{file}: duplicate case names {sorted(duplicates)}")
    return cases


def load_all(directory: Path = CORPORA) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(directory.glob("*.sql")):
        cases.extend(parse_corpus(path.read_text(encoding="utf-8"), path.name))
    return cases
