"""Preflight of a live run: before extracting, resolve and connect to each selected source's host
(or the proxy that the environment routes it through), all at once, a few seconds in all.

A source whose host cannot be reached is not extracted tonight: no request, no retry, no Prefect
task; the run says so at once and its final block names the host and what to do. Retries stay for
transient faults on hosts that answered the preflight.
"""
from __future__ import annotations

import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

#: per host: name lookup and TCP connect each get this long
CONNECT_TIMEOUT_SECONDS = 5.0
#: the whole preflight never takes longer than this (a lookup that hangs is abandoned)
TOTAL_TIMEOUT_SECONDS = 12.0


@dataclass(frozen=True)
class Target:
    """Where a source's requests go first: its own host, or the proxy the environment names for it."""

    source: str
    host: str
    port: int
    via_proxy: str = ""  # the proxy URL (without credentials) when the request goes through one

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}" + (f" (proxy for {self.via_proxy})" if self.via_proxy else "")


@dataclass(frozen=True)
class Unreachable:
    target: Target
    reason: str

    @property
    def message(self) -> str:
        return f"cannot reach {self.target.label}: {self.reason}"


def target_for(source: str, base_url: str, proxies: dict[str, str] | None = None) -> Target:
    """The first hop of a request to ``base_url``, honouring HTTP(S)_PROXY / NO_PROXY as requests does."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    proxies = urllib.request.getproxies() if proxies is None else proxies
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(host):
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return Target(source, p.hostname or "", p.port or (443 if p.scheme == "https" else 80),
                      via_proxy=f"{parts.scheme}://{host}")
    return Target(source, host, parts.port or (443 if parts.scheme == "https" else 80))


def probe(target: Target, timeout: float = CONNECT_TIMEOUT_SECONDS) -> Unreachable | None:
    """Resolve and connect once; None when a TCP connection opened."""
    try:
        addresses = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return Unreachable(target, f"the name does not resolve ({exc.strerror or exc})")
    except OSError as exc:
        return Unreachable(target, f"name lookup failed ({exc})")
    last: OSError | None = None
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
                return None
        except socket.timeout:
            last = TimeoutError(f"no answer within {timeout:.0f} s")
        except OSError as exc:
            last = exc
    reason = getattr(last, "strerror", None) or str(last) or "no address"
    return Unreachable(target, f"the connection failed ({reason})")


def check(targets: list[Target], total_timeout: float = TOTAL_TIMEOUT_SECONDS) -> dict[str, Unreachable]:
    """Probe every distinct first hop in parallel; the unreachable ones, by source. The probes run in
    daemon threads: a lookup that hangs past ``total_timeout`` is abandoned, never waited for."""
    hops = sorted({(t.host, t.port) for t in targets})
    outcome: dict[tuple[str, int], Unreachable | None] = {}
    threads = [threading.Thread(target=lambda hop=hop: outcome.__setitem__(hop, probe(Target("", *hop))),
                                name=f"preflight-{hop[0]}", daemon=True) for hop in hops]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + total_timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = {hop: Unreachable(Target("", *hop), f"no answer within {total_timeout:.0f} s") for hop in hops if hop not in outcome}
    outcome = {**outcome, **late}
    return {t.source: Unreachable(t, outcome[(t.host, t.port)].reason) for t in targets if outcome[(t.host, t.port)]}
