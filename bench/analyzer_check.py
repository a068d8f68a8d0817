"""The analyzer port (bot/relevance/tfidf.py `ANALYZER`) against scikit-learn's, on every title
and abstract of ../shared/bench/daily_arxiv (287 real arXiv days), by hand: the test suite
(tests/test_analyzer.py) reads only what is in the checkout.

    .venv/bin/python bench/analyzer_check.py      # prints the texts compared; exit 1 on a diff
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _benchlib import data_dir  # noqa: E402

from bot.relevance.tfidf import ANALYZER, reference_vectorizer  # noqa: E402


def main() -> int:
    sklearn = reference_vectorizer().build_analyzer()
    compared = differ = 0
    for path in sorted((data_dir() / "daily_arxiv" / "days").glob("*.jsonl.gz")):
        for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
            record = json.loads(line)
            for text in (record["title"], record["summary"]):
                compared += 1
                if ANALYZER(text) != sklearn(text):
                    differ += 1
                    print(f"DIFFERS ({path.name} {record['id']}): {text[:120]!r}")
    print(f"{compared} texts compared, {differ} differ")
    return 1 if differ or not compared else 0


if __name__ == "__main__":
    raise SystemExit(main())
