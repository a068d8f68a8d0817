"""Serving the web app with uvicorn: in the foreground (`digestbot web`) or on a thread of the
daemon (`digestbot run` with `web:`), stopped when the daemon stops.

uvicorn's own logging set-up is not used (`log_config=None`): its records go through the CLI's
redacting handler like ours. Its access log is off, because a vote link's path is its token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import uvicorn
from starlette.types import ASGIApp

from bot.errors import ConfigError

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


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles them in the main thread)."""
    server = uvicorn.Server(_config(app, host, port))
    server.run()
    if not server.started:
        raise OSError(f"the web page could not listen on {host}:{port} (see the log above)")


class WebServer:
    """uvicorn on a daemon thread: `start()` returns once it listens, `stop()` ends it."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.server = uvicorn.Server(_config(app, host, port))
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError("the web page could not start listening (see the log above)")
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


def from_settings(settings: Settings, env: Mapping[str, str] | None = None) -> tuple[Starlette, str, int]:
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
