"""bioRxiv `/details` answers DERIVED from real recordings (see tests/fixtures/SOURCES.md).

No whole recorded `/details` answer exists (only one real record, extracted from a test), so
the answers served here are built from real data, changing only what is said:

- `REAL_RECORD`: the real record of 10.1101/456574 (published as 10.7554/eLife.43696), as
  recorded;
- `genomics_record()`: a second record in the real record's shape (same keys, same order),
  its values taken from the real bioRxiv RSS item of 10.1101/2023.12.16.571984 (title, abstract,
  date, DOI, version 1 from its link, category from its channel "Genomics"; its authors, one
  comma-separated "Last, I." string in the feed, re-joined with "; " as the API writes them;
  `published` "NA": not yet in a journal; `jatsxml` following the real record's URL pattern);
- `page(records, cursor, total)`: the envelope `{"messages": [{"status": "ok", "interval",
  "cursor", "count", "count_new_papers", "total"}], "collection": [...]}` as the API's
  documentation and clients describe it (`total` a string, as the API sends it).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from tests.fixture_server import FIXTURES

REAL_RECORD: dict[str, Any] = json.loads(
    (FIXTURES / "biorxiv_api_details_10.1101-456574_1record_EXTRACTED.json").read_text("utf-8")
)
RSS = FIXTURES / "biorxiv_rss_genomics_2023-12-16_1items.xml"


def _cdata(tag: str, text: str) -> str:
    found = re.search(rf"<{tag}>\s*<!\[CDATA\[(.*?)\]\]>\s*</{tag}>", text, re.DOTALL)
    assert found, tag
    return found.group(1).strip()


def genomics_record() -> dict[str, Any]:
    """The real RSS item of 10.1101/2023.12.16.571984 in the API's record shape."""
    text = RSS.read_text("utf-8")
    names = [n.strip() for n in _cdata("dc:creator", text).split(",")]
    authors = "; ".join(f"{names[i]}, {names[i + 1]}" for i in range(0, len(names), 2))
    record = copy.deepcopy(REAL_RECORD)
    record.update(
        doi="10.1101/2023.12.16.571984",
        title=_cdata("dc:title", text),
        authors=authors,
        author_corresponding=names[0].title(),
        author_corresponding_institution="",
        date="2023-12-16",
        version="1",
        type="new results",
        license="cc_by",
        category="genomics",
        jatsxml="https://www.biorxiv.org/content/early/2023/12/16/2023.12.16.571984.source.xml",
        abstract=_cdata("description", text),
        published="NA",
    )
    return record


def page(
    records: list[dict[str, Any]], *, cursor: int, total: int, interval: str = "2023-12-16"
) -> bytes:
    """One `/details` answer holding `records`, starting at `cursor`, of `total`."""
    message = {
        "status": "ok",
        "interval": f"{interval}:{interval}",
        "cursor": cursor,
        "count": len(records),
        "count_new_papers": str(len(records)),
        "total": str(total),
    }
    return json.dumps({"messages": [message], "collection": records}).encode("utf-8")


def path(day: str, cursor: int, server: str = "biorxiv") -> str:
    return f"/details/{server}/{day}/{day}/{cursor}/json"
