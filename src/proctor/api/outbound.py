"""Outbound HTTP for the identity code: discovery documents, JWKS, OAuth token requests.

Synchronous (``urllib``) because its callers are: authenticators run in worker threads.
Bounded in time and size; redirects are not followed for POSTs; errors are short and never
include a response body (an IdP error page may echo request parameters such as a code).
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from proctor import __version__
from proctor.identity.fetch import FetchError, Response

MAX_BODY = 1024 * 1024
DEFAULT_TIMEOUT = 5.0


class UrllibFetcher:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT, tls: ssl.SSLContext | None = None) -> None:
        self._timeout = timeout
        self._tls = tls or ssl.create_default_context()

    def get_json(self, url: str) -> Response:
        request = urllib.request.Request(  # noqa: S310 - callers pass checked http(s) URLs
            url, headers={"Accept": "application/json", "User-Agent": _agent()}
        )
        response = self._send(request)
        if response.status != 200:
            raise FetchError(f"HTTP {response.status} from {_where(url)}")
        return response

    def post_form(
        self,
        url: str,
        form: Mapping[str, str],
        basic_auth: tuple[str, str] | None = None,
    ) -> Response:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": _agent(),
        }
        if basic_auth is not None:
            # RFC 6749 §2.3.1: both parts form-urlencoded before base64.
            user, password = (urllib.parse.quote(p, safe="") for p in basic_auth)
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{user}:{password}".encode()
            ).decode("ascii")
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(  # noqa: S310
            url, data=data, headers=headers, method="POST"
        )
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> Response:
        scheme = urllib.parse.urlsplit(request.full_url).scheme
        if scheme not in ("http", "https"):
            raise FetchError("only http(s) URLs can be fetched")
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self._timeout, context=self._tls if scheme == "https" else None
            ) as r:
                status, headers, raw = r.status, dict(r.headers.items()), r.read(MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            status, headers = exc.code, dict(exc.headers.items())
            raw = exc.read(MAX_BODY + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FetchError(f"cannot reach {_where(request.full_url)}: {reason}") from None
        if len(raw) > MAX_BODY:
            raise FetchError(f"the response from {_where(request.full_url)} is too large")
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            raise FetchError(
                f"the response from {_where(request.full_url)} (HTTP {status}) is not JSON"
            ) from None
        return Response(status, body, headers)


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _agent() -> str:
    return f"proctor/{__version__}"
