"""``[alerts]``: when a run notifies someone, and through which channels (flows/alerts.py decides,
flows/alert_channels.py sends).

Nothing configured, nothing sent: a channel is on when its table names where to send
(``[alerts.webhook] url_env``, ``[alerts.email] host``, ``[alerts.log] path``). Secrets never come
from the file: the webhook URL (Slack and Teams URLs carry their token) and the SMTP password are
read at send time from the environment variables named here; a URL or password written in the file
is refused at load (exit 2), without echoing it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

#: what an alert can be about, in the order a notification lists them
REASONS = ("failed", "source_failing", "stale", "quarantine")
Reason = Literal["failed", "source_failing", "stale", "quarantine"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ADDRESS = re.compile(r"[^@\s<>,;\"']+@[^@\s<>,;\"']+")
_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]+")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def _env_name(value: str, key: str, example: str) -> str:
    # a URL or a password given here is refused before validation, unechoed (flows/config.py)
    if value and not _ENV_NAME.fullmatch(value):
        raise ValueError(f"{key}: expected the name of an environment variable (letters, digits, underscores), "
                         f"e.g. {example}")
    return value


class WebhookTable(_Table):
    url_env: str = Field("", description="environment variable holding the webhook URL (never the URL)")
    format: Literal["text", "json"] = Field("text", description=(
        'text: {"text": ...}, what Slack and Teams incoming webhooks read; json: structured fields'))
    timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("url_env")
    @classmethod
    def _env(cls, value: str) -> str:
        return _env_name(value, "alerts.webhook.url_env", "BILATERAL_ALERT_WEBHOOK")


class EmailTable(_Table):
    host: str = Field("", description="SMTP server; empty: no mail")
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = Field("starttls", description=(
        "starttls (port 587), ssl (SMTPS, port 465) or none (a relay on a trusted network)"))
    sender: str = Field("", alias="from", description="sender address")
    to: list[str] = Field(default_factory=list, description="recipients")
    user: str = Field("", description="login; empty: no login")
    password_env: str = Field("", description="environment variable holding the SMTP password")
    timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("password_env")
    @classmethod
    def _env(cls, value: str) -> str:
        return _env_name(value, "alerts.email.password_env", "BILATERAL_SMTP_PASSWORD")

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _ADDRESS.fullmatch(address):
                raise ValueError(f"{address!r} is not an e-mail address (one address per list item, e.g. "
                                 "\"data-team@example.org\")")
        return value

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if value and not _ADDRESS.fullmatch(value):
            raise ValueError(f"{value!r} is not an e-mail address, e.g. \"bilateral@example.org\"")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if value and not _HOST.fullmatch(value):
            raise ValueError("expected a host name or address, e.g. smtp.example.org (no scheme; the port is "
                             "alerts.email.port)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> "EmailTable":
        if self.to and not self.host:
            raise ValueError("alerts.email.to needs alerts.email.host (the SMTP server that sends the mail)")
        if self.host and not self.to:
            raise ValueError("alerts.email.host is set but alerts.email.to is empty: list the recipients")
        if self.host and not self.sender:
            raise ValueError("alerts.email.host needs alerts.email.from (the sender address)")
        if bool(self.user) != bool(self.password_env):
            raise ValueError("alerts.email.user and alerts.email.password_env go together (a login needs both; "
                             "leave both empty for a server without login)")
        return self


class LogTable(_Table):
    path: str = Field("", description="JSON lines file, appended; relative to the project folder, or absolute")

    @field_validator("path")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(not c.isprintable() for c in value):
            raise ValueError("a path contains no control characters")
        return value


class AlertsSection(_Table):
    on: list[Reason] = Field(default_factory=lambda: list(REASONS), description="what alerts")
    consecutive_failures: int = Field(2, ge=1, description="alert when a source failed this many nights in a row")
    quarantine_rows: int = Field(100, ge=0, description="alert when more records than this were quarantined tonight")
    webhook: WebhookTable = Field(default_factory=WebhookTable)
    email: EmailTable = Field(default_factory=EmailTable)
    log: LogTable = Field(default_factory=LogTable)

    _log_path: Path | None = PrivateAttr(None)

    @field_validator("on")
    @classmethod
    def _once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("alerts.on lists a reason twice")
        return value

    @property
    def channels(self) -> list[str]:
        """The configured channels, in the order they are tried."""
        return [name for name, on in (("webhook", self.webhook.url_env), ("email", self.email.host),
                                      ("log", self.log.path)) if on]

    @property
    def active(self) -> bool:
        return bool(self.channels and self.on)

    @property
    def log_path(self) -> Path | None:
        return self._log_path


def resolve(section: AlertsSection, project_root: Path) -> AlertsSection:
    """What needs the project folder: the log file's path. Raises ValueError."""
    if section.log.path:
        given = Path(section.log.path).expanduser()
        path = given.resolve() if given.is_absolute() else (project_root / given).resolve()
        if not given.is_absolute() and not path.is_relative_to(project_root.resolve()):
            raise ValueError(f"config key 'alerts.log.path': got {section.log.path!r}; a relative path must stay "
                             f"inside the project folder {project_root} (give an absolute path to write elsewhere)")
        section._log_path = path
    return section
