"""Secrets never leave the process: every string that can (console, logs, audit rows, Prefect states
and artifacts, reports) goes through a Redactor that knows tonight's secret values.

Secrets are registered once per run (the API keys of the sources that run); the HTTP client also
scrubs the secret query parameters and credential headers of each request from any error text it
builds, and from the answer's body (gateways that echo the request URL or the key in an error body),
so an exception message is clean before anyone formats or truncates it, and no landed file holds a
secret.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterable, Iterator
from urllib.parse import quote, quote_plus

REDACTED = "REDACTED"
#: header names that carry credentials
SECRET_HEADER_WORDS = ("key", "token", "authorization", "secret", "password", "cookie")


class Redactor:
    """Replaces every known secret (and its URL-encoded forms) with REDACTED."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:  # shorter values would scrub ordinary text
            self._secrets |= {secret, quote(secret, safe=""), quote_plus(secret)}

    def scrub(self, text: object) -> str:
        out = str(text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in out:
                out = out.replace(secret, REDACTED)
        return out

    def scrub_bytes(self, data: bytes) -> bytes:
        """The same for a payload: each secret's UTF-8 bytes become REDACTED."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            raw = secret.encode("utf-8")
            if raw in data:
                data = data.replace(raw, REDACTED.encode())
        return data

    def __bool__(self) -> bool:
        return bool(self._secrets)


class RedactingFilter(logging.Filter):
    """Scrubs a log record's message, arguments and exception text before any handler writes it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose arguments do not format: scrub what is there
            message = str(record.msg)
        record.msg, record.args = self.redactor.scrub(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redactor.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redactor.scrub(record.exc_text)
        return True


def _handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    return list({id(h): h for lg in loggers for h in lg.handlers}.values())


@contextmanager
def redacting(redactor: Redactor) -> Iterator[None]:
    """Every logging handler that exists (Prefect's API and console handlers included) scrubs while
    the block runs."""
    if not redactor:
        yield
        return
    filt = RedactingFilter(redactor)
    handlers = _handlers()
    for handler in handlers:
        handler.addFilter(filt)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(filt)


def is_secret_header(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_HEADER_WORDS)
