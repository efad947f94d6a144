"""Where webhooks may go: public addresses only, unless the operator allows more.

A tenant chooses its webhook URL and the service calls it; unchecked, that is a
way into the service's own network (server-side request forgery). :func:`check_url`
refuses URLs longer than :data:`MAX_URL_LENGTH`, schemes other than http(s), the
names ``localhost`` (and ``*.localhost``) and ``metadata.google.internal``, and
any host that is, or resolves to, a loopback, private, link-local, multicast,
reserved, unspecified or otherwise non-public address: IPv4 (in any of the
numeric spellings resolvers accept: ``2130706433``, ``0x7f.0.0.1``, ``127.1``,
``0177.0.0.1``), IPv6, and IPv4 inside IPv6. A name is refused when any of its
addresses is.

The check runs when an endpoint is registered and again before every delivery;
it answers the checked address, and delivery connects to that address
(:func:`pinned`) with the name in ``Host`` and TLS SNI, so a name that resolves
elsewhere a moment later (DNS rebinding) cannot slip through. Refusals never
connect, so what the delivery log says does not depend on whether something
answers on an internal port.

The operator's allow-list (``LASTMILE_WEBHOOK_ALLOW``, :class:`Allow`: CIDRs and
host names, comma-separated) permits internal receivers on purpose.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from lastmile.exceptions import InputError

#: The longest webhook URL accepted.
MAX_URL_LENGTH = 2048
#: Names refused whatever they resolve to (cloud metadata services, this host).
INTERNAL_NAMES = frozenset({"localhost", "metadata.google.internal", "metadata"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``resolve(host, port)``: the host's addresses (raises ``OSError`` when it has none).
Resolver = Callable[[str, int], list[str]]

_NUMERIC_V4 = re.compile(r"[0-9a-fx.]+")


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, through the system resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Allow:
    """Internal receivers the operator permits: networks and host names."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Allow:
        """``"10.0.0.0/8, 127.0.0.1, hooks.internal"`` (commas or spaces between)."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in re.split(r"[,\s]+", text.strip()):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                if not re.fullmatch(r"[A-Za-z0-9_.-]+", entry):
                    raise InputError(
                        f"{entry!r} is neither a network (CIDR) nor a host name",
                        where="webhook_allow",
                    ) from None
                hosts.add(_name(entry))
        return cls(tuple(networks), frozenset(hosts))

    def permits(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks) or (
            isinstance(address, ipaddress.IPv6Address)
            and address.ipv4_mapped is not None
            and any(address.ipv4_mapped in network for network in self.networks)
        )


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: its host, port and the address to connect to."""

    url: httpx.URL
    host: str
    port: int
    address: str


def _name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _literal(host: str) -> IPAddress | None:
    """``host`` as an address when it is one, in any spelling a resolver accepts."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_V4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _kind(address: IPAddress) -> str | None:
    """What makes ``address`` unfit for a webhook (``None``: it is public). An IPv6
    address carrying an IPv4 one (mapped, 6to4, NAT64) is judged by that too."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return _kind(inner) or (None if address.is_global or address in _NAT64 else "reserved")
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    return None if address.is_global else "non-public"


def _refuse(message: str) -> InputError:
    return InputError(
        f"{message}; webhooks go to public addresses "
        "(an operator may allow internal receivers with LASTMILE_WEBHOOK_ALLOW)",
        where="url",
    )


def check_url(url: str, *, allow: Allow, resolve: Resolver = resolve_host) -> Target:
    """Check ``url`` as a webhook receiver and answer where to connect.

    Raises :class:`InputError` naming ``url`` with what is wrong; the message
    names the kind of address refused, never a port or whether it answers."""
    if len(url) > MAX_URL_LENGTH:
        raise InputError(
            f"the URL has {len(url)} characters; at most {MAX_URL_LENGTH}", where="url"
        )
    try:
        split = urllib.parse.urlsplit(url)
        scheme, host, given_port = split.scheme.lower(), _name(split.hostname or ""), split.port
    except ValueError as exc:
        raise InputError(f"not a URL ({exc})", where="url") from None
    if scheme not in ("http", "https"):
        raise InputError("use an http or https URL", where="url")
    if not host:
        raise InputError("the URL names no host", where="url")
    port = given_port or (443 if scheme == "https" else 80)
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        if host not in allow.hosts and (host in INTERNAL_NAMES or host.endswith(".localhost")):
            raise _refuse(f"{host} is an internal name")
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            raise InputError(f"the host {host} does not resolve", where="url")
    if host not in allow.hosts:
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            kind = None if allow.permits(address) else _kind(address)
            if kind is None:
                continue
            if literal is not None:
                raise _refuse(f"{address} is a {kind} address")
            raise _refuse(f"the host {host} resolves to a {kind} address")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InputError(f"not a URL ({exc})", where="url") from None
    return Target(url=parsed, host=host, port=port, address=addresses[0])


def pinned(target: Target) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The URL, extra headers and request extensions that reach ``target``'s checked
    address while naming its host (``Host`` header; SNI and certificate check for https)."""
    url = target.url.copy_with(host=target.address)
    netloc = target.url.netloc.decode("ascii")
    headers = {"Host": netloc.rsplit("@", 1)[-1]}
    extensions: dict[str, Any] = {}
    if target.url.scheme == "https" and _literal(target.host) is None:
        extensions["sni_hostname"] = target.host
    return url, headers, extensions
