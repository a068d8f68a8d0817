"""The web page: `digestbot web` serves it in the foreground (`run` serves it too when bot.yaml
has `web:`, bot/cli/operate.py)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import click

from bot.cli.base import EXIT_OK, _common, _guard, _settings, _setup_logging, cli
from bot.errors import ConfigError

log = logging.getLogger("bot")


@cli.command()
@_common
@click.option(
    "--listen",
    default=None,
    metavar="HOST:PORT",
    help="where to listen (default: web.listen of bot.yaml, else 127.0.0.1:8080)",
)
@_guard
def web(config: Path | None, verbose: bool, listen: str | None) -> int:
    """Serve the web page: the digests sent, the profile editor, votes. Until SIGINT/SIGTERM.

    Off loopback it needs web.password_env (HTTP Basic; put TLS in front: README)."""
    from pydantic import ValidationError

    from bot.web.server import from_settings, serve
    from bot.web.settings import WebSettings

    _setup_logging(verbose, daemon=True)
    settings = _settings(config)
    if listen is not None:
        current = settings.web or WebSettings()
        try:
            chosen = WebSettings.model_validate({**current.model_dump(), "listen": listen})
        except ValidationError as exc:
            message = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ConfigError(message, file="--listen") from None
        settings = dataclasses.replace(settings, web=chosen)
    app, host, port = from_settings(settings)
    serve(app, host, port, lambda url: log.info("the web page is served on %s (stop: Ctrl-C)", url))
    return EXIT_OK
