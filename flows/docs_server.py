"""Serve the built documentation sites on the loopback interface only.

A plain ``http.server`` bound to 127.0.0.1 (never another interface: the docs describe the
warehouse and are for this machine's user), serving ``<warehouse>/docs/site``. The socket is bound
before anything is built, so a port in use is reported at once. Ctrl-C (SIGINT) or SIGTERM stop it.
"""
from __future__ import annotations

import errno
import functools
import http.server
import signal
from pathlib import Path

from flows.errors import BilateralError

HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class PortUnavailable(BilateralError):
    """The port asked for cannot be bound on 127.0.0.1."""


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet: the console shows the URLs, not every request
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # a rebuilt site shows at the next reload
        super().end_headers()


class DocsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, root: Path) -> None:
        super().__init__((HOST, port), functools.partial(_Handler, directory=str(root)))

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://{HOST}:{self.port}/{path}"

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # a browser that went away
            super().handle_error(request, client_address)


def bind(port: int, root: Path) -> DocsServer:
    """A server bound to 127.0.0.1:``port`` (0: a free port) serving ``root``, not yet serving."""
    try:
        return DocsServer(port, root)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(f"port {port} on {HOST} is already in use (another server is listening there); "
                                  "choose another with --port N, or --port 0 for a free one") from None
        if exc.errno == errno.EACCES:
            raise PortUnavailable(f"port {port} on {HOST} needs privileges to bind (ports below 1024); "
                                  "choose one above 1023 with --port N, or --port 0 for a free one") from None
        raise PortUnavailable(f"cannot listen on {HOST}:{port} ({exc.strerror or exc})") from None


def serve_until_stopped(server: DocsServer) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    # SIGINT too: a process started in the background of a script inherits SIGINT ignored
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()
