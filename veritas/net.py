"""The client's address, read correctly behind trusted reverse proxies.

Behind a load balancer every request comes from the balancer's address (REMOTE_ADDR), and
the client's is in ``X-Forwarded-For``, where each proxy *appends* the address it received
the request from. Only the entries the trusted proxies appended can be believed: anything to
their left may have been sent by the client itself. So the client is found from the right:

- ``TRUSTED_PROXIES`` (addresses or networks): walk ``X-Forwarded-For`` + REMOTE_ADDR from
  the right, skipping trusted proxies; the first other address is the client.
- else ``TRUSTED_PROXY_COUNT`` = N: the N-th entry of ``X-Forwarded-For`` from the right
  (with one load balancer, N = 1: the address the balancer saw).
- else (no proxy, the default): REMOTE_ADDR; ``X-Forwarded-For`` is ignored, since anyone
  can send it.

django-axes (admin login lockouts) and audit entries use this one function. (django-ipware
does this job too, but its current release returns no address at all when the header has
fewer entries than the proxy count, which would put every client in one lockout bucket.)
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in trusted)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as a string (None only when REMOTE_ADDR is missing)."""
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = tuple(settings.TRUSTED_PROXIES)
    count = settings.TRUSTED_PROXY_COUNT
    if not trusted and not count:
        return remote
    forwarded = [entry for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if trusted:
        networks = _networks(trusted)
        for entry in reversed([*forwarded, remote or ""]):
            address = _parse(entry)
            if address is None:
                return remote  # a malformed hop: believe nothing the header says
            if not any(address in network for network in networks):
                return str(address)
        return remote  # every hop is a trusted proxy: the request came from inside
    if len(forwarded) < count:
        return remote  # not through all the proxies (a direct request): the header is not theirs
    address = _parse(forwarded[-count])
    return str(address) if address is not None else remote
