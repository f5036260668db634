"""Conditions on where the command goes and where it comes from: the connection's name and
tags, the protocol, and the client's address."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping

from proctor.model import Connection, Identity, Statement
from proctor.policy.conditions.base import Condition, _listed
from proctor.policy.conditions.patterns import NameSet
from proctor.policy.context import DecisionContext

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Connections(Condition):
    __slots__ = ("_names",)
    key = "connections"

    def __init__(self, patterns: Iterable[str]) -> None:
        self._names = NameSet(patterns)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return connection.name in self._names

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return f"connection {connection.name!r} is not one of {_listed(self._names.patterns)}"

    def describe(self) -> str:
        return f"connections: {_listed(self._names.patterns)}"


class Tags(Condition):
    __slots__ = ("_tags",)
    key = "tags"

    def __init__(self, tags: Mapping[str, Iterable[str]]) -> None:
        self._tags = tuple((key, frozenset(values)) for key, values in tags.items())

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        tags = connection.tags
        for key, wanted in self._tags:  # noqa: SIM110 - a loop is faster than all()
            if tags.get(key) not in wanted:
                return False
        return True

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        for key, wanted in self._tags:
            value = connection.tags.get(key)
            if value is None:
                return f"connection {connection.name!r} has no tag {key!r}"
            if value not in wanted:
                return f"tag {key} is {value!r}, not one of {_listed(sorted(wanted))}"
        return "tags hold"  # pragma: no cover

    def describe(self) -> str:
        return "tags: " + "; ".join(f"{k}={_listed(sorted(v))}" for k, v in self._tags)


class Protocols(Condition):
    __slots__ = ("_protocols",)
    key = "protocols"

    def __init__(self, protocols: Iterable[str]) -> None:
        self._protocols = frozenset(protocols)

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        return context.protocol in self._protocols

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        return f"protocol {context.protocol} is not one of {_listed(sorted(self._protocols))}"

    def describe(self) -> str:
        return f"protocols: {_listed(sorted(self._protocols))}"


@functools.lru_cache(maxsize=4096)
def parse_address(text: str) -> IpAddress | None:
    """A client address as an IP address; IPv4-mapped IPv6 (::ffff:a.b.c.d) as IPv4."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ClientAddresses(Condition):
    __slots__ = ("_networks", "_unsure")
    key = "client_addresses"

    def __init__(self, networks: Iterable[str], *, unsure: bool) -> None:
        self._networks = tuple(ipaddress.ip_network(n) for n in networks)
        self._unsure = unsure

    def test(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> bool:
        text = context.client_addr
        address = parse_address(text) if text else None
        if address is None:
            return self._unsure
        return any(address in network for network in self._networks)

    def why_not(
        self,
        statement: Statement,
        identity: Identity,
        connection: Connection,
        context: DecisionContext,
    ) -> str:
        if not context.client_addr or parse_address(context.client_addr) is None:
            return "the client address is unknown (counted as not matching for this rule)"
        return f"client address {context.client_addr} is in none of {_listed(self._networks)}"

    def describe(self) -> str:
        return f"client_addresses: {_listed(self._networks)}"
