"""HTTP for every connector: timeouts, retries with exponential backoff and jitter, Retry-After,
per-source pacing and secret redaction. The transport underneath is live (requests), replay (a
recorded directory) or recording (live, and written to a directory): connectors cannot tell the
difference, so offline runs go through exactly the same connector code as live ones.
"""
from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from flows.errors import SourceError, SourceUnavailable
from flows.secrets import Redactor, is_secret_header

if TYPE_CHECKING:
    from flows.sources.base import SourceSettings

USER_AGENT = "bilateral-etl/0.1 (+nightly trade, tariff and relations warehouse)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 300.0


@dataclass
class HttpResponse:
    """One HTTP exchange. ``body`` is the raw payload, untouched except that HttpClient replaces the
    request's own secrets in it by REDACTED (some gateways echo them); ``headers`` keys are lower-case."""

    url: str
    redacted_url: str
    key: str
    status: int
    headers: dict[str, str]
    body: bytes
    origin: str  # "live" | "replay"
    synthetic: bool = False
    fetched_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class TransportError(Exception):
    """The request never got an HTTP answer (DNS failure, refused connection, timeout, reset)."""


class Transport(Protocol):
    origin: str

    def send(self, source: str, url: str, key: str, headers: dict[str, str], timeout: float) -> HttpResponse: ...

    def recorded_keys(self, source: str) -> list[str] | None:
        """The request keys a recording holds for ``source``; None for a live transport."""


class LiveTransport:
    origin = "live"

    def recorded_keys(self, source: str) -> list[str] | None:
        return None

    def __init__(self) -> None:
        self._session = requests.Session()

    def send(self, source: str, url: str, key: str, headers: dict[str, str], timeout: float) -> HttpResponse:
        try:
            r = self._session.get(url, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return HttpResponse(url=url, redacted_url=url, key=key, status=r.status_code,
                            headers={k.lower(): v for k, v in r.headers.items()}, body=r.content, origin=self.origin)


def build_url(base_url: str, path: str, params: dict[str, object] | None = None) -> str:
    """``base_url/path?query``: None values dropped, list separators (``;:,*``) left readable."""
    query = urlencode({k: v for k, v in (params or {}).items() if v is not None}, safe=";:,*")
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}" + (f"?{query}" if query else "")


def redact(url: str, secret_params: tuple[str, ...]) -> str:
    parts = urlsplit(url)
    query = [(k, "REDACTED" if k in secret_params else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return parts._replace(query=urlencode(query, safe=";:,*")).geturl()


def request_key(base_url: str, url: str, secret_params: tuple[str, ...]) -> str:
    """Stable name of a request, independent of host and secrets: path below base URL + sorted query."""
    base_path = urlsplit(base_url).path.rstrip("/")
    parts = urlsplit(url)
    path = parts.path[len(base_path):] if parts.path.startswith(base_path) else parts.path
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in secret_params)
    q = urlencode(query, safe=";:,*")
    return path.lstrip("/") + (f"?{q}" if q else "")


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class HttpClient:
    """GET with retries and pacing for one source. Non-retryable answers are returned to the connector,
    which knows what its source's 4xx bodies mean; retryable ones that never recover raise
    SourceUnavailable."""

    def __init__(self, source: "SourceSettings", transport: Transport, *, secret_params: tuple[str, ...] = (),
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        self.source = source
        self.transport = transport
        self.secret_params = secret_params
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._last_request_at: float | None = None
        self.requests_sent = 0

    def url(self, path: str, params: dict[str, object] | None = None) -> str:
        return build_url(self.source.base_url, path, params)

    def recorded_keys(self) -> list[str] | None:
        """What the recording being replayed holds for this source (None when live)."""
        return self.transport.recorded_keys(self.source.name)

    def _pace(self) -> None:
        interval = self.source.min_interval_seconds
        if interval and self._last_request_at is not None and self.transport.origin == "live":
            wait = interval - (time.monotonic() - self._last_request_at)
            if wait > 0:
                self._sleep(wait)
        self._last_request_at = time.monotonic()

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter in [0.5, 1.5) of the nominal delay."""
        return self.source.backoff_seconds * (2 ** attempt) * (0.5 + self._rng.random())

    def get(self, url: str, *, headers: dict[str, str] | None = None,
            retryable: Callable[[HttpResponse], bool] | None = None) -> HttpResponse:
        """Fetch ``url``. ``retryable`` lets a connector mark source-specific throttling bodies
        (e.g. a rate-limit text that arrives with HTTP 200) as worth another try."""
        key = request_key(self.source.base_url, url, self.secret_params)
        redacted = redact(url, self.secret_params)
        send_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip", **(headers or {})}
        # the request's own secrets (query parameters, credential headers) never reach an error text
        redactor = Redactor([v for k, v in parse_qsl(urlsplit(url).query) if k in self.secret_params]
                            + [v for k, v in send_headers.items() if is_secret_header(k)])
        scrub = redactor.scrub
        last_problem = ""
        for attempt in range(self.source.max_retries + 1):
            self._pace()
            self.requests_sent += 1
            try:
                resp = self.transport.send(self.source.name, url, key, send_headers, self.source.timeout_seconds)
            except TransportError as exc:
                last_problem = scrub(str(exc).replace(url, redacted))
                delay = self.backoff(attempt)
            except SourceError as exc:  # e.g. a replay without this request: named by its redacted URL
                raise type(exc)(exc.source, redacted, scrub(exc.problem.replace(url, redacted)), exc.hint) from None
            else:
                resp.redacted_url = redacted
                resp.url = redacted
                # an answer echoing the request (its URL, its key) is cleaned before it is read, cut or landed
                resp.body = redactor.scrub_bytes(resp.body)
                keep = getattr(self.transport, "keep", None)  # a recording transport writes the clean answer
                if keep is not None:
                    keep(self.source.name, resp)
                if resp.status not in RETRY_STATUSES and not (retryable and retryable(resp)):
                    return resp
                last_problem = scrub(f"HTTP {resp.status}: {resp.text()[:200]!r}")
                delay = self.backoff(attempt)
                if resp.status in (429, 503):
                    after = _retry_after_seconds(resp.headers.get("retry-after"))
                    if after is not None:
                        if after > MAX_RETRY_AFTER_SECONDS:
                            raise SourceUnavailable(
                                self.source.name, redacted,
                                f"server asks to wait {after:.0f} s (Retry-After) which exceeds {MAX_RETRY_AFTER_SECONDS:.0f} s",
                                "the quota or outage outlasts tonight's run; the next nightly run retries")
                        delay = after
            if attempt < self.source.max_retries:
                self._sleep(delay)
        raise SourceUnavailable(
            self.source.name, redacted,
            f"no usable answer after {self.source.max_retries + 1} attempts; last: {last_problem}",
            f"check network access to {self.source.base_url} (or sources.{self.source.name}.base_url); "
            f"run offline with --sample or --replay DIR")
