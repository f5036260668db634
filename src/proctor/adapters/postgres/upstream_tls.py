"""SSLRequest negotiation with the upstream server, shared by sessions and cancel requests."""

from __future__ import annotations

import asyncio

from proctor.adapters.postgres.ports import CancelTarget, Network, UpstreamIO
from proctor.adapters.postgres.upstream_auth import UpstreamAuthError
from proctor.codecs.pgwire import encode
from proctor.model import Connection


async def negotiate_tls(upstream: UpstreamIO, connection: Connection) -> None:
    if connection.tls.mode == "disable":
        return
    upstream.write(encode.ssl_request())
    answer = await upstream.read()
    if answer == b"S":
        await upstream.start_tls(connection)
    elif answer == b"N" and connection.tls.mode == "prefer":
        return
    else:
        raise UpstreamAuthError("the upstream server does not offer TLS")


CANCEL_WAIT = 5.0


async def send_cancel(network: Network, target: CancelTarget) -> None:
    """Deliver a CancelRequest for the upstream backend; the server answers by closing."""
    upstream = await network.open_upstream(target.connection)
    try:
        await negotiate_tls(upstream, target.connection)
        upstream.write(encode.cancel_request(target.pid, target.secret))
        async with asyncio.timeout(CANCEL_WAIT):
            while await upstream.read():
                pass
    finally:
        upstream.close()
