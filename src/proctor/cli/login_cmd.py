"""``proctor login|logout|whoami|env|connect``: a person's side of signing in.

``login`` runs the device authorization grant through the gateway (which holds the identity
provider's client): it prints a URL and a code, waits until the person approves in any
browser, and saves the Proctor token it gets in ``<config dir>/proctor/credentials.json``
(mode 0600; ``$XDG_CONFIG_HOME`` is honoured). The other commands read that file:

- ``whoami``: who the gateway says the token belongs to, groups, roles, expiry (like every
  command that calls the gateway's API, it prefers ``$PROCTOR_URL`` and ``$PROCTOR_TOKEN``);
- ``env CONN``: ``export PG…`` lines for psql and libpq programs;
- ``connect CONN --port P``: a listener on 127.0.0.1:P that adds the token, so that
  ``psql -h localhost -p P`` needs no password at all (the token never leaves this process);
- ``logout``: revokes the token at the gateway and deletes the file.

Commands exported for ``cli.commands``: ``login_command``, ``logout_command``,
``whoami_command``, ``env_command``, ``connect_command``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import ssl
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from proctor.cli.store_open import printable
from proctor.codecs.pgwire import ProtocolError, StartupFramer, StartupMessage, encode
from proctor.codecs.pgwire.startup import CancelRequest, GssEncRequest, SslRequest

GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
CREDENTIALS = "credentials.json"
AUTH_CLEARTEXT = 3
AUTH_OK = 0


class LoginError(click.ClickException):
    pass


@dataclass
class Credentials:
    gateway: str
    access_token: str
    subject: str
    groups: list[str]
    expires_at: str
    provider: str | None = None
    refresh_token: str | None = None
    postgres_host: str | None = None
    postgres_port: int | None = None

    @property
    def expired(self) -> bool:
        return datetime.fromisoformat(self.expires_at) <= datetime.now(UTC)


def config_dir() -> Path:
    return Path(click.get_app_dir("proctor"))


def credentials_path() -> Path:
    return config_dir() / CREDENTIALS


def save_credentials(creds: Credentials) -> Path:
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / CREDENTIALS
    tmp = path.with_suffix(".tmp")
    # Created 0600 from the start: the token is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(creds), out, indent=2)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def load_credentials() -> Credentials:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
        return Credentials(**data)
    except FileNotFoundError:
        raise LoginError("not signed in: run `proctor login` first") from None
    except (ValueError, TypeError) as exc:
        raise LoginError(f"{path} is damaged ({exc}); run `proctor login` again") from None


# -- HTTP to the gateway ---------------------------------------------------------------------


def _request(
    url: str,
    form: dict[str, str] | None = None,
    bearer: str | None = None,
    json_body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    """(HTTP status, parsed JSON body or None). A ``form`` or ``json_body`` makes it a POST."""
    headers = {"Accept": "application/json"}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise LoginError(f"the gateway URL must be http(s): {url}")
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LoginError(f"cannot reach the gateway at {url}: {reason}") from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def _gateway_url(option: str | None) -> str:
    url = option or os.environ.get("PROCTOR_GATEWAY")
    if not url:
        with contextlib.suppress(LoginError):
            url = load_credentials().gateway
    if not url:
        raise LoginError("name the gateway: --gateway URL or $PROCTOR_GATEWAY")
    return url.rstrip("/")


def _error_text(body: Any, status: int) -> str:
    if isinstance(body, dict) and "error" in body:
        return f"{body.get('error_description') or body['error']}"
    return f"HTTP {status}"


def _credentials_from(gateway: str, body: dict[str, Any], provider: str | None) -> Credentials:
    expires = datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 0)))
    creds = Credentials(
        gateway=gateway,
        access_token=str(body["access_token"]),
        subject=str(body.get("subject", "")),
        groups=list(body.get("groups", [])),
        expires_at=expires.isoformat(),
        provider=provider,
        refresh_token=body.get("refresh_token"),
    )
    status, who = _request(f"{gateway}/whoami", bearer=creds.access_token)
    if status == 200 and isinstance(who, dict) and isinstance(who.get("postgres"), dict):
        creds.postgres_host = who["postgres"].get("host")
        creds.postgres_port = who["postgres"].get("port")
    return creds


def refreshed(creds: Credentials) -> Credentials:
    """The credentials, renewed through the gateway if expired and renewable."""
    if not creds.expired:
        return creds
    if creds.refresh_token is None:
        raise LoginError("your Proctor token has expired: run `proctor login` again")
    status, body = _request(
        f"{creds.gateway}/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": creds.refresh_token},
    )
    if status != 200 or not isinstance(body, dict):
        raise LoginError(
            f"cannot renew the sign-in: {_error_text(body, status)}; run `proctor login`"
        )
    new = _credentials_from(creds.gateway, body, creds.provider)
    save_credentials(new)
    return new


def api_target() -> tuple[str, str]:
    """(gateway URL, token) for commands that call the gateway's API: ``$PROCTOR_URL`` and
    ``$PROCTOR_TOKEN`` when set (scripts, the demo), else what ``proctor login`` saved."""
    url = os.environ.get("PROCTOR_URL") or None
    token = os.environ.get("PROCTOR_TOKEN") or None
    if url is None or token is None:
        try:
            creds = refreshed(load_credentials())
        except LoginError as exc:
            missing = "PROCTOR_URL" if token is not None else "PROCTOR_TOKEN"
            raise LoginError(f"{exc.message} (or set {missing})") from None
        url = url or creds.gateway
        token = token or creds.access_token
    return url.rstrip("/"), token


# -- commands ------------------------------------------------------------------------------------


gateway_option = click.option(
    "--gateway",
    "gateway",
    metavar="URL",
    help="The gateway's HTTP address (default: $PROCTOR_GATEWAY, then the last login's).",
)


@click.command("login")
@gateway_option
@click.option("--provider", help="Identity provider name, when the gateway has several.")
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds to wait.")
def login_command(gateway: str | None, provider: str | None, timeout: float) -> None:
    """Sign in with your organisation's identity provider (device flow)."""
    url = _gateway_url(gateway)
    form = {"provider": provider} if provider else {}
    status, start = _request(f"{url}/oauth/device", form)
    if status != 200 or not isinstance(start, dict) or "device_code" not in start:
        raise LoginError(f"the gateway refused to start a sign-in: {_error_text(start, status)}")
    verify = start.get("verification_uri_complete") or start.get("verification_uri")
    click.echo(
        f"To sign in, open {verify}\nand confirm the code {start.get('user_code')}.", err=True
    )
    interval = float(start.get("interval") or 5)
    deadline = time.monotonic() + min(timeout, float(start.get("expires_in") or timeout))
    poll = {
        "grant_type": GRANT_DEVICE_CODE,
        "device_code": str(start["device_code"]),
        "provider": str(start.get("provider") or provider or ""),
    }
    if not poll["provider"]:
        del poll["provider"]
    while True:
        time.sleep(interval)
        status, body = _request(f"{url}/oauth/token", poll)
        if status == 200 and isinstance(body, dict):
            break
        error = body.get("error") if isinstance(body, dict) else None
        if error == "authorization_pending":
            pass
        elif error == "slow_down":
            interval += 5  # RFC 8628 §3.5
        else:
            raise LoginError(f"sign-in failed: {_error_text(body, status)}")
        if time.monotonic() > deadline:
            raise LoginError("sign-in timed out: the code was not confirmed in time")
    creds = _credentials_from(url, body, poll.get("provider"))
    path = save_credentials(creds)
    click.echo(
        f"Signed in as {printable(creds.subject)} (groups: "
        f"{printable(', '.join(creds.groups) or 'none')}); token valid until "
        f"{creds.expires_at}, saved in {path}.",
        err=True,
    )


@click.command("logout")
def logout_command() -> None:
    """Revoke your Proctor token at the gateway and forget it."""
    path = credentials_path()
    try:
        creds = load_credentials()
    except LoginError:
        click.echo("Not signed in.", err=True)
        return
    status, body = _request(f"{creds.gateway}/oauth/revoke", {"token": creds.access_token})
    path.unlink(missing_ok=True)
    if status != 200:
        raise LoginError(f"forgot the token, but the gateway said: {_error_text(body, status)}")
    click.echo(f"Signed out; the token is revoked and {path} removed.", err=True)


@click.command("whoami")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def whoami_command(as_json: bool) -> None:
    """Who the gateway says you are: subject, groups, roles, token expiry."""
    gateway, token = api_target()
    status, body = _request(f"{gateway}/whoami", bearer=token)
    if status != 200 or not isinstance(body, dict):
        raise LoginError(f"the gateway refused the token: {_error_text(body, status)}")
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"subject:  {printable(str(body.get('subject')))}")
    click.echo(f"groups:   {printable(', '.join(body.get('groups') or []) or 'none')}")
    click.echo(f"roles:    {', '.join(body.get('roles') or [])}")
    click.echo(f"expires:  {body.get('expires_at')}")
    click.echo(f"gateway:  {gateway}")


def _pg_endpoint(creds: Credentials, host: str | None, port: int | None) -> tuple[str, int]:
    host = host or creds.postgres_host or urllib.parse.urlsplit(creds.gateway).hostname
    port = port or creds.postgres_port or 5432
    assert host is not None
    return host, port


@click.command("env")
@click.argument("connection")
@click.option("--host", help="The gateway's PostgreSQL host (default: what the gateway says).")
@click.option("--port", type=int, help="The gateway's PostgreSQL port.")
@click.option("--sslmode", default="require", show_default=True)
@click.option("--sslrootcert", type=click.Path(dir_okay=False), help="CA of the gateway.")
def env_command(
    connection: str, host: str | None, port: int | None, sslmode: str, sslrootcert: str | None
) -> None:
    """Print PG* exports for CONNECTION: eval "$(proctor env shop)"."""
    creds = refreshed(load_credentials())
    pg_host, pg_port = _pg_endpoint(creds, host, port)
    values = {
        "PGHOST": pg_host,
        "PGPORT": str(pg_port),
        "PGUSER": creds.subject,
        "PGPASSWORD": creds.access_token,
        "PGDATABASE": connection,
        "PGSSLMODE": sslmode,
    }
    if sslrootcert:
        values["PGSSLROOTCERT"] = str(Path(sslrootcert).resolve())
    for key, value in values.items():
        click.echo(f"export {key}={shlex.quote(value)}")


@click.command("connect")
@click.argument("connection")
@click.option("--port", "local_port", type=int, default=0, help="Local port (default: any).")
@click.option("--host", help="The gateway's PostgreSQL host (default: what the gateway says).")
@click.option("--gateway-port", type=int, help="The gateway's PostgreSQL port.")
@click.option(
    "--sslmode",
    type=click.Choice(["verify-full", "require", "disable"]),
    default="verify-full",
    show_default=True,
    help="TLS towards the gateway (disable: loopback gateways only).",
)
@click.option("--sslrootcert", type=click.Path(dir_okay=False, exists=True), help="Gateway CA.")
def connect_command(
    connection: str,
    local_port: int,
    host: str | None,
    gateway_port: int | None,
    sslmode: str,
    sslrootcert: str | None,
) -> None:
    """Listen on 127.0.0.1 and add your token: psql -h localhost -p PORT needs no password."""
    creds = refreshed(load_credentials())
    pg_host, pg_port = _pg_endpoint(creds, host, gateway_port)
    tls: ssl.SSLContext | None = None
    if sslmode != "disable":
        tls = ssl.create_default_context(cafile=sslrootcert)
        if sslmode == "require":
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
    proxy = LocalProxy(creds, connection, pg_host, pg_port, tls)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(proxy.serve(local_port))


class LocalProxy:
    """Loopback listener: answers the client's startup itself (no password asked), opens the
    gateway connection with the token, then relays bytes both ways unchanged."""

    def __init__(
        self,
        creds: Credentials,
        connection: str,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.creds = creds
        self.connection = connection
        self.host = host
        self.port = port
        self.tls = tls

    async def serve(self, local_port: int) -> None:
        server = await asyncio.start_server(self._client, "127.0.0.1", local_port)
        bound = server.sockets[0].getsockname()[1]
        click.echo(
            f"Listening on 127.0.0.1:{bound} for {self.connection} as "
            f"{printable(self.creds.subject)}: psql -h localhost -p {bound}",
            err=True,
        )
        sys.stderr.flush()
        async with server:
            await server.serve_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            startup = await self._read_startup(reader, writer)
            if startup is None:
                return
            upstream = await self._open_gateway(startup, writer)
            if upstream is None:
                return
            up_reader, up_writer = upstream
            await asyncio.gather(
                _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
            )
        except (OSError, ProtocolError, asyncio.IncompleteReadError) as exc:
            with contextlib.suppress(OSError):
                writer.write(
                    encode.error_response("08006", f"proctor connect: {exc}", severity="FATAL")
                )
        finally:
            writer.close()

    async def _read_startup(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> StartupMessage | None:
        framer = StartupFramer()
        while True:
            packet = framer.feed(b"")
            while packet is None:
                data = await reader.read(65536)
                if not data:
                    return None
                packet = framer.feed(data)
            if isinstance(packet, SslRequest | GssEncRequest):
                writer.write(b"N")  # loopback only: no TLS needed between psql and us
                await writer.drain()
                continue
            if isinstance(packet, CancelRequest):
                return None  # cancel keys are the gateway's; not routed through here
            return packet

    async def _open_gateway(
        self, startup: StartupMessage, client: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        if self.tls is not None:
            writer.write(encode.ssl_request())
            await writer.drain()
            answer = await reader.readexactly(1)
            if answer != b"S":
                raise OSError("the gateway does not offer TLS (use --sslmode disable on loopback)")
            await writer.start_tls(self.tls, server_hostname=self.host)
        params = {k: v for k, v in startup.params.items() if k not in ("user", "database")}
        requested = startup.params.get("database", "")
        database = requested if requested.startswith(self.connection + "/") else self.connection
        params.update(user=self.creds.subject, database=database)
        writer.write(encode.startup_message(params))
        await writer.drain()
        # The gateway asks for a cleartext password: answer with the token, then let every
        # later message (AuthenticationOk, ParameterStatus ...) through to the client.
        header = await reader.readexactly(5)
        mtype, length = header[0], struct.unpack("!i", header[1:])[0]
        body = await reader.readexactly(length - 4)
        if mtype == ord("R") and struct.unpack("!i", body[:4])[0] == AUTH_CLEARTEXT:
            writer.write(encode.password_message(self.creds.access_token))
            await writer.drain()
            return reader, writer
        client.write(header + body)  # an error (or anything else): the client reads it
        await client.drain()
        writer.close()
        return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


COMMANDS: list[click.Command] = [
    login_command,
    logout_command,
    whoami_command,
    env_command,
    connect_command,
]
