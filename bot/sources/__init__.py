"""The source registry: `kind` in bot.yaml -> the class that fetches it."""

from __future__ import annotations

from bot.sources.arxiv_query import ArxivQuery
from bot.sources.arxiv_rss import ArxivRss
from bot.sources.base import Source
from bot.sources.biorxiv import Biorxiv
from bot.sources.feed import Feed
from bot.sources.hf_daily import HfDaily

SOURCES: dict[str, type[Source]] = {
    HfDaily.kind: HfDaily,
    ArxivRss.kind: ArxivRss,
    ArxivQuery.kind: ArxivQuery,
    Biorxiv.kind: Biorxiv,
    Feed.kind: Feed,
}
