"""SSRF guard for webhook URLs: http(s) only, and every address the host resolves to public.

Checked when a webhook is created (422) and again before each send (DNS can change between the
two): the sender then connects to the very address it checked, never to a second resolution.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeUrlError(ValueError):
    """The URL may not be called: its scheme, its host or what the host resolves to."""


class UnresolvableHostError(UnsafeUrlError):
    """The host does not resolve (now): refused at creation, retried at send time."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where to connect (ip) and what to call it (host, for Host and TLS SNI)."""

    scheme: str
    host: str
    ip: str
    port: int
    path: str  # path and query, at least "/"

    @property
    def address_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        literal = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        literal = f"[{self.host}]" if ":" in self.host else self.host
        return literal if self.port == DEFAULT_PORTS[self.scheme] else f"{literal}:{self.port}"


def refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why this address is not public (loopback, private, link-local incl. cloud metadata,
    unspecified, multicast, reserved, IPv6 ULA/link-local, IPv4-mapped forms of those), else None."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return refusal(embedded)
    for name in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if not ip.is_global:
        return "not globally routable"
    return None


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL; raises UnsafeUrlError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UnsafeUrlError(f"not a valid URL: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeUrlError(f"the URL's scheme must be http or https, not {scheme or 'none'}")
    if not parts.hostname:
        raise UnsafeUrlError("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrlError("the URL must not carry credentials")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme], path


async def check(url: str, allow_private: bool) -> Target:
    """Resolves the URL's host and checks every address; returns the first, to connect to."""
    scheme, host, port, path = parse(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UnresolvableHostError(f"the host {host} does not resolve: {e.strerror}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnresolvableHostError(f"the host {host} does not resolve")
    if not allow_private:
        for ip in addresses:
            why = refusal(ip)
            if why is not None:
                raise UnsafeUrlError(
                    f"the host {host} resolves to {ip} ({why}); webhooks may only call public addresses "
                    "(EXPSTREAM_WEBHOOK_ALLOW_PRIVATE=true allows others)"
                )
    return Target(scheme, host, str(addresses[0]), port, path)
