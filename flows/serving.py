"""``bilateral serve``: the ``nightly`` deployment served on ``schedule.cron`` in ``schedule.timezone``.

On the Prefect server ``PREFECT_API_URL`` names when it is set (it must answer), else on a local
server started for the purpose (flows/prefect_server.py) and stopped when serving ends. Scheduled
runs are started by Prefect's runner in their own process with the parameters given here (mode,
config file, overrides), exactly like ``bilateral run`` with the same options.
"""
from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from urllib.parse import urlparse

from flows.config import Config
from flows.errors import BilateralError
from flows.prefect_server import LocalPrefectServer, ServerUnavailable, check_api

DEPLOYMENT = "bilateral-nightly"


class ServeRefused(BilateralError):
    """The serving options are wrong (exit 2): nothing was started."""


@dataclass(frozen=True)
class ServeOptions:
    mode: str = "live"  # live | sample | replay
    replay_dir: str | None = None
    sources: list[str] | None = None
    overrides: list[str] = field(default_factory=list)

    def parameters(self, config: Config) -> dict:
        params = {"mode": self.mode, "config_path": str(config.path), "project_dir": str(config.project.root),
                  "overrides": list(self.overrides)}
        if self.replay_dir:
            params["replay_dir"] = os.path.abspath(self.replay_dir)
        if self.sources:
            params["sources"] = list(self.sources)
        return params


def _given_api_url() -> str | None:
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ServeRefused(f"PREFECT_API_URL={url!r} is not an http(s) URL of a Prefect API, "
                           "e.g. http://127.0.0.1:4200/api (or unset it to let `bilateral serve` start a local server)")
    return url


def _raise_interrupt(signum, frame):  # SIGTERM before Prefect's runner takes over: end like Ctrl-C
    raise KeyboardInterrupt


def _as_sigterm(signum, frame):
    """Ctrl-C stops like SIGTERM: Prefect's runner then cancels the run in flight and returns at once
    (on SIGINT it would wait for that run to end)."""
    os.kill(os.getpid(), signal.SIGTERM)


def serve(config: Config, options: ServeOptions, out=sys.stdout) -> None:
    """Serve until interrupted. Raises ServeRefused (bad options) or ServerUnavailable (no server)."""
    api_url = _given_api_url()
    server: LocalPrefectServer | None = None
    previous = signal.signal(signal.SIGTERM, _raise_interrupt), signal.signal(signal.SIGINT, _as_sigterm)
    try:
        if api_url:
            check_api(api_url)
            print(f"bilateral: using the Prefect server at {api_url} (PREFECT_API_URL)", file=out, flush=True)
        else:
            server = LocalPrefectServer(config.warehouse_dir / ".prefect-server")
            print(f"bilateral: starting a local Prefect server on {server.url} "
                  f"(PREFECT_HOME {server.home}, log {server.log_path})...", file=out, flush=True)
            server.start()
            api_url = server.api_url
            print(f"Prefect UI at {server.url}", file=out, flush=True)
        os.environ["PREFECT_API_URL"] = api_url  # for the flow runs the runner starts
        _serve_deployment(config, options, api_url, out)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
        if server is not None:
            print("bilateral: stopping the local Prefect server", file=out, flush=True)
            server.stop()


def _serve_deployment(config: Config, options: ServeOptions, api_url: str, out) -> None:
    from prefect.schedules import Cron
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.types.entrypoint import EntrypointType

    from flows.nightly import nightly

    print(f"bilateral: serving deployment nightly/{DEPLOYMENT} ({options.mode} mode) on "
          f"'{config.schedule_cron}' ({config.schedule_timezone}); Ctrl-C stops", file=out, flush=True)
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        nightly.serve(name=DEPLOYMENT, schedule=Cron(config.schedule_cron, timezone=config.schedule_timezone),
                      limit=1, parameters=options.parameters(config), print_starting_message=False,
                      entrypoint_type=EntrypointType.MODULE_PATH,
                      description="bilateral's nightly run (extract, land, load, dbt, validate, publish)")


__all__ = ["DEPLOYMENT", "ServeOptions", "ServeRefused", "ServerUnavailable", "serve"]
