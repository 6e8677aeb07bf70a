"""Errors a user can act on: each says what went wrong, where, and what to do."""
from __future__ import annotations


class BilateralError(Exception):
    """Base class: ``str(err)`` is a complete, actionable message."""


class SourceError(BilateralError):
    """A source could not deliver usable data for a request."""

    def __init__(self, source: str, where: str, problem: str, hint: str = "") -> None:
        self.source, self.where, self.problem, self.hint = source, where, problem, hint
        msg = f"[{source}] {problem} (at {where})"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)


class SourceUnavailable(SourceError):
    """Network failure, DNS failure, timeouts or 5xx/429 that outlasted every retry."""


class ApiErrorBody(SourceError):
    """The API answered with an error document (possibly with HTTP 200)."""


class MalformedResponse(SourceError):
    """The payload is not what the source's format promises (bad JSON, wrong shape, wrong types)."""

    def __init__(self, source: str, where: str, problem: str, hint: str = "") -> None:
        super().__init__(source, where, problem, hint or (
            "the answer is kept in the landing zone as a rejected file and the next nightly run asks again; "
            f"if it persists, the API's format has changed: compare it with flows/sources/{source}/README.md"))


class QuotaExhausted(SourceError):
    """The source's quota is used up: stop the source for the night."""


class ReplayMissing(SourceError):
    """Replay mode was asked for a request that the recording does not hold."""


class LoadError(BilateralError):
    """A landed file could not be loaded; nothing of it was loaded."""

    def __init__(self, file: str, problem: str) -> None:
        self.file, self.problem = file, problem
        super().__init__(f"refused to load {file}: {problem}; the file is kept for inspection, nothing of it was loaded")


class ValidationFailed(BilateralError):
    """A Great Expectations suite failed: publication is stopped."""


class PublishError(BilateralError):
    """Publishing failed; the previously published warehouse is untouched."""


class RunLocked(BilateralError):
    """Another run holds the warehouse (one writer per warehouse): try again when it has finished."""


class WarehouseLocked(BilateralError):
    """Another process (an analyst's client, a BI tool) holds the working DuckDB file."""


class StorageError(BilateralError):
    """The file system refused a write or a read (full, read-only, permission denied): the run ends,
    nothing half-written stays behind, and the published outputs are untouched."""

    def __init__(self, path: object, action: str, reason: str, todo: str) -> None:
        self.path, self.action, self.reason, self.todo = str(path), action, reason, todo
        super().__init__(f"cannot {action} {path}: {reason}; {todo}")
