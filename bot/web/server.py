"""Serving the web app with uvicorn: in the foreground (`digestbot web`) or on a thread of the
daemon (`digestbot run` with `web:`), stopped when the daemon stops.

uvicorn's own logging set-up is not used (`log_config=None`): its records go through the CLI's
redacting handler like ours. Its access log is off, because a vote link's path is its token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn
from starlette.types import ASGIApp

from bot.errors import ConfigError, DigestbotError

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from bot.config import Settings

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0  # seconds for the thread's server to bind its socket


def _config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="off",
    )


def serve(app: ASGIApp, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Serve until SIGINT/SIGTERM, then return (uvicorn's own handling would end the process
    by the signal again, not with exit code 0). `ready` is told the address once it listens."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping the web page", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    server = WebServer(app, host, port)
    try:
        server.start()
        ready(server.address)
        while not stop.wait(0.5):
            if not server.thread.is_alive():
                raise DigestbotError("the web page stopped on its own (the log above says why)")
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class WebServer:
    """uvicorn on a daemon thread: `start()` returns once it listens, `stop()` ends it."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.server = uvicorn.Server(_config(app, host, port))
        self.thread = threading.Thread(target=self._run, name="web", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn exits when it cannot bind (logged); start() says so
            log.debug("the web server thread ended at start-up")

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                where = f"{self.server.config.host}:{self.server.config.port}"
                raise DigestbotError(
                    f"the web page cannot listen on {where} (in use, or not an address of "
                    "this machine; the log above says which)",
                    hint="change web.listen (or --listen), or stop what listens there",
                )
            time.sleep(0.01)

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen by the system when asked for port 0)."""
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    @property
    def address(self) -> str:
        host = self.server.config.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def from_settings(
    settings: Settings, env: Mapping[str, str] | None = None
) -> tuple[Starlette, str, int]:
    """The app for `settings` (its `web:`, or the defaults: 127.0.0.1:8080) and where it
    listens. Raises ConfigError when it must not start: a password variable named but unset,
    or an address off loopback without a password (bot.yaml's check refuses that already;
    this one also covers `--listen`)."""
    from bot.web.app import create_app
    from bot.web.settings import WebSettings

    web = settings.web or WebSettings()
    password = web.password(env)
    if web.password_env is not None and password is None:
        raise ConfigError(
            f"${web.password_env} is not set: the web page is served only with its password",
            file=str(settings.path),
            field="web.password_env",
            hint=f"export {web.password_env}=... (or remove password_env on loopback)",
        )
    if password is None and not web.loopback:
        raise ConfigError(
            f"{web.host} is not a loopback address and there is no password",
            file=str(settings.path),
            field="web.listen",
            hint="set web.password_env, or listen on 127.0.0.1 behind a reverse proxy",
        )
    secret = web.secret(env)
    # The CSRF cookies are signed with a key derived from the vote-link secret when there is
    # one (open forms survive a restart), else with a key of this process.
    csrf = hmac.new(secret, b"digestbot csrf", hashlib.sha256).digest() if secret else None
    app = create_app(settings, password=password, csrf_secret=csrf, vote_secret=secret)
    return app, web.host, web.port
