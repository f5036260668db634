"""The few HTML pages the gateway shows people: sign-in lists, errors, a new token.

Pages that show a token are never cached, framed or referred from, and allow no script or
remote resource: the token must not leave the page by any way but the person's own copy.
"""

from __future__ import annotations

import html
from datetime import UTC

from aiohttp import web

from proctor.identity.signin import SignedIn

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto}"
        "code,pre{background:#f4f4f4;padding:.2em;word-break:break-all}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html", headers=PAGE_HEADERS)


def signed_in_page(signed: SignedIn, continue_to: str | None = None) -> web.Response:
    """The new Proctor token, shown once; ``continue_to``: a local path to offer next."""
    record = signed.minted.issued.record
    token = html.escape(signed.minted.issued.secret)
    subject = html.escape(record.subject)
    groups = html.escape(", ".join(sorted(record.groups)) or "none")
    until = record.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = (
        f"<p>Signed in as <b id='subject'>{subject}</b> (groups: <span id='groups'>"
        f"{groups}</span>). Your Proctor access token, valid until {until}, is shown "
        "once:</p>"
        f"<pre id='token'>{token}</pre>"
        "<p>Use it as the password, for example:</p>"
        f"<pre>export PGUSER='{subject}' PGPASSWORD='{token}'</pre>"
    )
    if continue_to is not None:
        body += f"<p><a id='continue' href='{html.escape(continue_to)}'>Continue</a></p>"
    return page("Signed in", body)
