"""The analyzer (bot/relevance/tfidf.py `ANALYZER`, a port of scikit-learn's) gives exactly
scikit-learn's terms, in its order, for `VECTORIZER_SETTINGS`: on every text of the recorded
payloads in tests/fixtures and on hostile strings. Its stop list is scikit-learn's. (The suite
reads nothing outside the checkout: bench/analyzer_check.py compares the two on every title and
abstract of ../shared/bench's 287 arXiv days, by hand.)"""

# ruff: noqa: RUF001  (look-alike characters are what the hostile strings are made of)

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator

import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from bot import archive
from bot.models import Paper
from bot.relevance.stop_words import ENGLISH_STOP_WORDS as OUR_STOP_WORDS
from bot.relevance.tfidf import ANALYZER, reference_vectorizer
from bot.sources.arxiv_feed import parse_atom, parse_rss
from bot.sources.biorxiv import parse_details
from bot.sources.feed import parse_feed
from bot.sources.hf_daily import parse_api, parse_page
from tests.biorxiv_pages import REAL_RECORD, page
from tests.conftest import FIXTURES

SKLEARN: Callable[[str], list[str]] = reference_vectorizer().build_analyzer()


def _fixture_papers() -> Iterator[Paper]:
    """The papers of every recorded payload a parser of ours reads."""
    for path in sorted(FIXTURES.glob("hf_daily_papers_*.json")):
        yield from parse_api(path.read_bytes())
    for path in sorted(FIXTURES.glob("hf_papers_page_*.html")):
        yield from parse_page(path.read_bytes())
    for path in sorted(FIXTURES.glob("arxiv_rss_*.xml")):
        yield from parse_rss(path.read_bytes()).papers
    for path in sorted(FIXTURES.glob("arxiv_api_*.atom.xml")):
        yield from parse_atom(path.read_bytes()).papers
    for path in sorted(FIXTURES.glob("arxiv_api_recorded-*.http.json")):
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if recorded["status_code"] == 200:
            yield from parse_atom(recorded["body"].encode("utf-8")).papers
    yield from parse_details(page([REAL_RECORD], cursor=0, total=1)).papers
    for pattern in ("biorxiv_rss_*.xml", "jpeds_rss_*.xml", "science_rss_*.rss"):
        for path in sorted(FIXTURES.glob(pattern)):
            yield from parse_feed(path.read_bytes(), name=path.stem).papers
    for _, papers in archive.days(FIXTURES / "archive"):
        yield from papers


def _fixture_texts() -> list[str]:
    """Titles, abstracts and the text the bot scores, of every parsed paper; the Zotero items'
    titles and abstracts; and every recorded file whole, as text (markup and all)."""
    texts: list[str] = []
    for paper in _fixture_papers():
        texts += [paper.title, paper.abstract, paper.text]
    for path in sorted(FIXTURES.glob("zotero_api_items_*.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            texts += [item["data"].get("title", ""), item["data"].get("abstractNote", "")]
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
        texts.append(raw.decode("utf-8", "replace"))
    return texts


HOSTILE = {
    "empty": "",
    "only spaces": "   \t\n ",
    "one letter words": "a b c d e f x y z",
    "combining marks": "cafe\u0301 nai\u0308ve re\u0301sume\u0301 Ångström Å",
    "precomposed accents": "Café naïve résumé Erdős Dvořák Łukasiewicz façade",
    "ligatures": "ﬁne-tuning ﬂow eﬃcient ﬀt Œuvre æther ĳssel",
    "nbsp and narrow spaces": "deep\u00a0learning\u202fmodel\u2009tiny\u3000wide",
    "zero width": "zero\u200bwidth join\u200ders non\u200cjoiner word\u2060joiner \ufeffbom",
    "soft hyphen": "hy\u00adphen\u00adated words",
    "rtl": "\u202eevil\u202c text عربي نص שלום עולם mixed العربية English",
    "emoji": "🤗 transformers 🚀🚀 rocket 👩‍🔬 scientist 1️⃣ keycap 🇫🇷 flag",
    "digits": "GPT-4 2024 3.14159 x86_64 ١٢٣ ٤٥ ⁵⁶ ½ Ⅻ ① 123abc",
    "underscores": "snake_case __dunder__ _a_ a_ _ __ ___ var_1 __init__",
    "cjk": "深度学习 模型 自然言語処理 の研究 한국어 텍스트 mixed 中文 words",
    "fullwidth": "ＦＵＬＬ ｗｉｄｔｈ　ＡＢＣ １２３",
    "turkish dotless i": "İstanbul ISTANBUL ıstanbul DİYARBAKIR ılık I ı İ",
    "german sharp s": "Straße STRASSE ẞ groß Fuß Maßstab",
    "greek and math": "Σίσυφος ΣΑΣ σς αβγ ∀x∈ℝ ℕ ℤ ℌ 𝔸𝔹 𝐁𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐",
    "stop words only": "the and of to in is it that this with for",
    "stop words between": "layer the normalization of deep and wide networks",
    "case of stop words": "THE Model WITH Attention AnD Other",
    "control characters": "nul\x00byte bell\x07 tab\tnew\nline cr\rlf \x1b[31mred\x1b[0m",
    "html and latex": '<b>bold</b> &amp; $\\mathcal{O}(n^2)$ \\emph{word} {\\"o}',
    "surrogate escape free astral": "𝟘𝟙𝟚 𐐀𐐨 Deseret 𝕏 double",
    "long word": "a" * 5000 + " " + "b" * 3,
    "apostrophes": "don't it's models' O'Neil l’apprentissage",
    "hyphens and dashes": "state-of-the-art long–range em—dash ‐ ‑ non-breaking",
}


def test_the_stop_words_are_scikit_learns() -> None:
    assert OUR_STOP_WORDS == ENGLISH_STOP_WORDS


def test_equal_to_scikit_learn_on_every_recorded_payload() -> None:
    texts = _fixture_texts()
    assert len(texts) > 500  # the papers of the fixtures, not an empty glob
    for text in texts:
        assert ANALYZER(text) == SKLEARN(text), text[:200]


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_equal_to_scikit_learn_on_hostile_text(text: str) -> None:
    assert ANALYZER(text) == SKLEARN(text)


def test_terms_are_folded_words_then_pairs() -> None:
    """What the equality above means, spelled out on one sentence."""
    assert ANALYZER("The Café of naïve ﬁne-tuning, İ x_y") == [
        "cafe",
        "naive",
        "fine",
        "tuning",
        "x_y",
        "cafe naive",
        "naive fine",
        "fine tuning",
        "tuning x_y",
    ]
