"""Sending one notification through each configured channel: a webhook (Slack/Teams ``{"text": ...}``
or structured JSON), e-mail over SMTP, a JSON lines log file.

A channel that fails (receiver down, SMTP refuses, variable unset) returns a failed Delivery and
never raises: the caller records it and the run's outcome stays what it was. Secrets are read from
the environment at send time and never shown: a webhook is named by its host only, and every error
text is scrubbed of the URL and the password before anyone sees it.
"""
from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from flows.alerts_config import AlertsSection, EmailTable, WebhookTable
from flows.secrets import Redactor


@dataclass(frozen=True)
class Reason:
    """Why a run alerts: ``reason`` is one of flows.alerts_config.REASONS, ``message`` says what and what to do."""

    reason: str
    message: str


@dataclass(frozen=True)
class Notification:
    run_id: str
    outcome: str
    run_date: str
    mode: str
    reasons: list[Reason]
    warehouse: str
    published: str = ""  # the published file when tonight published it
    test: bool = False
    sent_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def subject(self) -> str:
        if self.test:
            return "[bilateral] test notification"
        kinds = ", ".join(dict.fromkeys(r.reason for r in self.reasons))
        return f"[bilateral] {self.outcome.upper()} nightly {self.run_id} ({kinds})"

    def text(self) -> str:
        head = ("bilateral test notification: alerts reach this channel" if self.test else
                f"bilateral nightly {self.run_id} ({self.mode}, run date {self.run_date}): {self.outcome.upper()}")
        lines = [head, *(f"- {r.reason}: {r.message}" for r in self.reasons), f"warehouse: {self.warehouse}"]
        lines.append(f"published: {self.published}" if self.published else "published: nothing tonight")
        return "\n".join(lines)

    def fields(self) -> dict:
        return {"run_id": self.run_id, "outcome": self.outcome, "run_date": self.run_date, "mode": self.mode,
                "reasons": [asdict(r) for r in self.reasons], "warehouse": self.warehouse,
                "published": self.published, "test": self.test, "sent_at": self.sent_at, "text": self.text()}


@dataclass(frozen=True)
class Delivery:
    channel: str
    target: str  # what may be shown: a host, a server, a file; never a secret
    ok: bool
    error: str = ""


class _Refused(Exception):
    """A channel cannot send; the message is safe to show."""


def send_all(section: AlertsSection, note: Notification, environ: Mapping[str, str] | None = None) -> list[Delivery]:
    """One Delivery per configured channel, in order; never raises."""
    environ = os.environ if environ is None else environ
    senders = {"webhook": lambda: send_webhook(section.webhook, note, environ),
               "email": lambda: send_email(section.email, note, environ),
               "log": lambda: send_log(section.log_path, note)}
    return [senders[channel]() for channel in section.channels]


def _failed(channel: str, target: str, exc: BaseException, redactor: Redactor) -> Delivery:
    text = str(exc) if isinstance(exc, _Refused) else f"{type(exc).__name__}: {exc}"
    return Delivery(channel, target, False, redactor.scrub(text).strip()[:500] or type(exc).__name__)


# --- webhook -------------------------------------------------------------------------------------
def webhook_host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "?")


def _webhook_redactor(url: str) -> Redactor:
    parts = urlsplit(url)
    secrets = [url, parts.path, parts.query, parts.password or "", parts.username or ""]
    secrets += [p for p in parts.path.split("/") if len(p) >= 8]  # the tokens inside a Slack or Teams path
    return Redactor(secrets)


def send_webhook(table: WebhookTable, note: Notification, environ: Mapping[str, str]) -> Delivery:
    url = environ.get(table.url_env, "").strip()
    redactor = _webhook_redactor(url) if url else Redactor()
    target = webhook_host(url) if url else f"(${table.url_env} unset)"
    try:
        if not url:
            raise _Refused(f"environment variable {table.url_env} (alerts.webhook.url_env) is not set or empty; "
                           "export the webhook URL there")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise _Refused(f"the value of {table.url_env} is not an http(s) URL (not shown)")
        body = {"text": note.text()} if table.format == "text" else note.fields()
        request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "bilateral"})
        try:
            with urllib.request.urlopen(request, timeout=table.timeout_seconds) as answer:
                answer.read(65536)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            raise _Refused(f"the receiver answered HTTP {exc.code}" + (f": {detail}" if detail else "")) from None
        except urllib.error.URLError as exc:
            raise _Refused(f"cannot reach the receiver: {exc.reason}") from None
    except Exception as exc:  # noqa: BLE001 - a channel never fails the run
        return _failed("webhook", target, exc, redactor)
    return Delivery("webhook", target, True)


# --- e-mail --------------------------------------------------------------------------------------
def send_email(table: EmailTable, note: Notification, environ: Mapping[str, str]) -> Delivery:
    target = f"{table.host}:{table.port}"
    password = environ.get(table.password_env, "") if table.password_env else ""
    redactor = Redactor([password])
    try:
        if table.user and not password:
            raise _Refused(f"environment variable {table.password_env} (alerts.email.password_env) is not set or "
                           "empty; export the SMTP password there")
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = note.subject, table.sender, ", ".join(table.to)
        message.set_content(note.text())
        context = ssl.create_default_context()
        if table.security == "ssl":
            server = smtplib.SMTP_SSL(table.host, table.port, timeout=table.timeout_seconds, context=context)
        else:
            server = smtplib.SMTP(table.host, table.port, timeout=table.timeout_seconds)
        with server:
            if table.security == "starttls":
                server.ehlo()
                if not server.has_extn("starttls"):
                    raise _Refused(f"{target} does not offer STARTTLS; set alerts.email.security = \"ssl\" (port "
                                   "465) or \"none\" for a relay on a trusted network")
                server.starttls(context=context)
                server.ehlo()
            if table.user:
                server.login(table.user, password)
            server.send_message(message)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return _failed("email", target, _Refused(f"the server answered {exc.smtp_code} {text}"), redactor)
    except Exception as exc:  # noqa: BLE001 - a channel never fails the run
        return _failed("email", target, exc, redactor)
    return Delivery("email", target, True)


# --- log file ------------------------------------------------------------------------------------
def send_log(path: Path | None, note: Notification) -> Delivery:
    target = str(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(note.fields(), default=str) + "\n")
    except Exception as exc:  # noqa: BLE001 - a channel never fails the run
        return _failed("log", target, exc, Redactor())
    return Delivery("log", target, True)
