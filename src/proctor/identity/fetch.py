"""What the identity code needs from the network: JSON over HTTP(S), synchronously.

The identity package opens no sockets itself (DESIGN.md §2): the gateway hands it a
``Fetcher`` (``proctor.api.outbound.UrllibFetcher``), and tests hand it whatever they like.
Calls happen off the event loop (authenticators run in worker threads).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit


class FetchError(Exception):
    """The request failed (network, TLS, HTTP status, size, not JSON). Safe to show."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Any  # the decoded JSON document
    headers: Mapping[str, str] = field(default_factory=dict)


class Fetcher(Protocol):
    def get_json(self, url: str) -> Response:
        """GET ``url``; raise FetchError unless the status is 200 and the body is JSON."""
        ...

    def post_form(
        self,
        url: str,
        form: Mapping[str, str],
        basic_auth: tuple[str, str] | None = None,
    ) -> Response:
        """POST an urlencoded form; return any status with its JSON body (OAuth errors are
        JSON with status 400/401). Raise FetchError when the body is not JSON."""
        ...


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_secure_url(url: str, what: str) -> None:
    """Identity documents and keys must come over https; plain http only from loopback."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return
    raise FetchError(f"{what} must be an https URL (http is accepted only on loopback)")
