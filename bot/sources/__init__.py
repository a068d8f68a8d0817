"""The source registry: `kind` in bot.yaml -> the class that fetches it."""

from __future__ import annotations

from bot.sources.base import Source
from bot.sources.hf_daily import HfDaily

SOURCES: dict[str, type[Source]] = {
    HfDaily.kind: HfDaily,
}
