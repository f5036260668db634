"""Authenticating to the upstream server with the credential the gateway holds.

A small state machine with no I/O: each Authentication request from the server goes in, the
bytes to send come out. SCRAM itself is done by ``scramp`` (not hand-written).
"""

from __future__ import annotations

import hashlib

import scramp

from proctor.codecs.pgwire import decode, encode
from proctor.codecs.pgwire.constants import (
    AUTH_CLEARTEXT,
    AUTH_MD5,
    AUTH_OK,
    AUTH_SASL,
    AUTH_SASL_CONTINUE,
    AUTH_SASL_FINAL,
)
from proctor.model import Credential

SUPPORTED_SASL = ("SCRAM-SHA-256",)


class UpstreamAuthError(Exception):
    """Upstream authentication could not proceed. Never includes the credential."""


class UpstreamAuthenticator:
    def __init__(self, credential: Credential) -> None:
        self._cred = credential
        self._scram: scramp.ScramClient | None = None
        self.done = False

    def _password(self, method: str) -> str:
        if self._cred.password is None:
            raise UpstreamAuthError(f"the server asks for {method} but no password is configured")
        return self._cred.password

    def handle(self, code: int, payload: bytes) -> bytes | None:
        """Answer one Authentication request; None when nothing is to be sent."""
        if code == AUTH_OK:
            self.done = True
            return None
        if code == AUTH_CLEARTEXT:
            return encode.password_message(self._password("a cleartext password"))
        if code == AUTH_MD5:
            if len(payload) != 4:
                raise UpstreamAuthError("malformed MD5 salt from the server")
            pw = self._password("an MD5 password")
            inner = hashlib.md5(  # noqa: S324 - PostgreSQL's md5 method, not our choice
                (pw + self._cred.username).encode()
            ).hexdigest()
            outer = hashlib.md5(inner.encode() + payload).hexdigest()  # noqa: S324
            return encode.password_message("md5" + outer)
        if code == AUTH_SASL:
            offered = decode.sasl_mechanisms(payload)
            usable = [m for m in SUPPORTED_SASL if m in offered]
            if not usable:
                raise UpstreamAuthError(f"no supported SASL mechanism among {offered}")
            try:
                self._scram = scramp.ScramClient(
                    usable, self._cred.username, self._password("SCRAM")
                )
                first = self._scram.get_client_first()
            except scramp.ScramException as exc:
                raise UpstreamAuthError("SCRAM exchange could not start") from exc
            return encode.sasl_initial_response(usable[0], first.encode())
        if code == AUTH_SASL_CONTINUE:
            if self._scram is None:
                raise UpstreamAuthError("SASL continue without SASL start")
            try:
                self._scram.set_server_first(payload.decode())
                return encode.sasl_response(self._scram.get_client_final().encode())
            except (scramp.ScramException, UnicodeDecodeError) as exc:
                raise UpstreamAuthError("SCRAM exchange failed") from exc
        if code == AUTH_SASL_FINAL:
            if self._scram is None:
                raise UpstreamAuthError("SASL final without SASL start")
            try:
                # Verifies the server's signature: the server proves it knows the password too.
                self._scram.set_server_final(payload.decode())
            except (scramp.ScramException, UnicodeDecodeError) as exc:
                raise UpstreamAuthError("the server's SCRAM signature did not verify") from exc
            return None
        raise UpstreamAuthError(f"unsupported authentication method {code} requested by server")
