"""The console: where digests go when no channel is configured, and what --dry-run prints.

Not in the registry (it has no settings and no profile key): the app falls back to it for any
destination whose notifier is not usable, e.g. Slack without a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from bot.models import Delivery
from bot.notifiers.base import Notifier
from bot.render import headline, paper_url, score_fact, short_authors, why_line


class ConsoleNotifier(Notifier):
    """Prints a digest to a terminal (or any text stream) with rich."""

    name = "console"
    Settings = BaseModel

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._console = Console(file=stream, highlight=False, soft_wrap=True)

    @classmethod
    def create(cls, settings: Any, env: Mapping[str, str]) -> tuple[Notifier | None, str]:
        return cls(), ""

    def send_text(self, text: str, target: str = "") -> None:
        self._console.print(escape(text))

    def send(self, delivery: Delivery, target: str = "") -> None:
        out = self._console
        title = f"{delivery.profile_name} — {delivery.digest_day.isoformat()}"
        if target:
            title += f" (for {target})"
        out.print(f"[bold]{escape(title)}[/bold]")
        out.print(escape(headline(delivery)))
        for n, match in enumerate(delivery.matches, start=1):
            paper = match.paper
            url = paper_url(paper)
            # Paper text comes from the internet: escape it so `[...]` is never rich markup.
            out.print(f"\n{n}. [bold]{escape(paper.title)}[/bold]")
            if url:
                out.print(f"   {escape(url)}")
            out.print(f"   {escape(short_authors(paper.authors))}")
            facts = [f for f in (score_fact(match),) if f]
            if "upvotes" in paper.extras:
                facts.append(f"▲ {paper.extras['upvotes']} upvotes")
            if match.why:
                facts.append(f"why: {why_line(match)}")
            out.print("   " + escape(" · ".join(facts)))
        out.print()
