"""The fast reading of profiles (bot/yaml_fast.py through `load_profile`) gives exactly what the
round-trip reading gives: the same Profile, or the same errors (file, line, field, hint), or the
same exception. Checked on every profile file in the repository, on the broken profiles of
tests/test_config.py, on a table of YAML's tricky corners, and on a few hundred generated
documents (a fixed seed) mixing quoted and plain spellings of the scalars YAML 1.1 and 1.2 read
differently.

The reference is `bot.config._round_trip_profile`, the reading every profile went through
before the fast path existed; `load_profile` is what every command calls.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bot import config, yaml_fast
from bot.config import load_profile
from bot.errors import ConfigError, ConfigErrors
from bot.models import Profile
from tests.test_config import BROKEN_PROFILES

BROKEN_PROFILES_TEXTS = [p.values for p in BROKEN_PROFILES]

REPO = Path(__file__).resolve().parents[1]
REPO_PROFILES = sorted(
    [
        *(REPO / "config" / "profiles").glob("*.yaml"),
        *(REPO / "bot" / "templates" / "config" / "profiles").glob("*.yaml"),
        *(REPO / "tests" / "fixtures").rglob("*.yaml"),
        *(REPO / "bench" / "profiles").rglob("*.yaml"),
    ]
)

Outcome = tuple[str, object]


def outcome(read: Callable[[], Profile]) -> Outcome:
    """What a reader gives, as a value to compare whole: the profile, or every error's text
    (file, line, field, message) and hint, or the exception the reading raised."""
    try:
        return ("profile", read())
    except ConfigErrors as exc:
        return ("errors", [(str(e), e.hint) for e in exc.errors])
    except ConfigError as exc:
        return ("error", (str(exc), exc.hint))
    except Exception as exc:  # the round-trip reading raises a few itself (a date like 2024-13-45)
        return ("raised", f"{type(exc).__name__}: {exc}")


def both(path: Path, text: str) -> tuple[Outcome, Outcome]:
    """(load_profile's outcome, the round-trip reading's outcome) for `text` as file `path`."""
    return (
        outcome(lambda: load_profile(path, text=text)),
        outcome(lambda: config._round_trip_profile(path, None, text)),
    )


def fast_answers(path: Path, text: str) -> bool:
    return config._plain_profile(path, None, text) is not None


def test_the_c_parser_is_installed() -> None:
    # Without ruamel.yaml.clib every test below would pass by never taking the fast path.
    assert yaml_fast.available()


@pytest.mark.parametrize("path", REPO_PROFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_profile_in_the_repo_loads_the_same_and_fast(path: Path) -> None:
    rt = config._round_trip_profile(path, None)
    assert load_profile(path) == rt
    assert config._plain_profile(path, None, path.read_text(encoding="utf-8")) == rt


def test_the_repo_has_profiles_to_compare() -> None:
    assert len(REPO_PROFILES) >= 30  # config/, bot/templates/, bench/profiles/{keywords,examples}


@pytest.mark.parametrize(("text", "line", "field", "message", "hint"), BROKEN_PROFILES)
def test_broken_profiles_give_the_same_errors(
    tmp_path: Path, text: str, line: int, field: str | None, message: str, hint: str | None
) -> None:
    fast, rt = both(tmp_path / "broken.yaml", text)
    assert rt[0] in ("errors", "error")
    assert fast == rt


GOOD = "name: Reader\ndescription: Decoding.\n"

# (profile text, whether the fast reading answers: False where it must leave it to round-trip)
TRICKY = [
    pytest.param(GOOD, True, id="plain"),
    pytest.param(GOOD + "keywords: [yes, no, on, off, y, n]\n", True, id="yaml-1.1-booleans"),
    pytest.param("%YAML 1.1\n---\n" + GOOD + "keywords: [yes]\n", False, id="yaml-1.1-directive"),
    pytest.param(GOOD + "max_per_digest: 012\n", True, id="leading-zero-int"),
    pytest.param(GOOD + "max_per_digest: 0o12\n", True, id="octal-int"),
    pytest.param(GOOD + "max_per_digest: 0x1F\n", True, id="hex-int"),
    pytest.param(GOOD + "max_per_digest: 1_0\n", True, id="underscore-int"),
    pytest.param(GOOD + "max_per_digest: 1:30\n", False, id="sexagesimal-plain"),
    pytest.param(GOOD + "keywords: ['1:30']\n", False, id="sexagesimal-quoted"),
    pytest.param(GOOD + "keywords: [2024-01-02]\n", False, id="date"),
    pytest.param(GOOD + "keywords: [2024-13-45]\n", False, id="impossible-date"),
    pytest.param(GOOD + "papers: [2401.01234]\n", False, id="unquoted-id"),
    pytest.param(GOOD + "papers: [2401.10]\n", False, id="unquoted-id-lost-zeros"),
    pytest.param(GOOD + "papers: ['2401.10000', \"0704.0001\"]\n", True, id="quoted-ids"),
    pytest.param(GOOD + "min_score: .5\nupvote_weight: 1e-1\n", True, id="float-spellings"),
    pytest.param(GOOD + "min_score: .NaN\n", False, id="nan"),
    pytest.param(GOOD + "name: Again\n", False, id="duplicate-key"),
    pytest.param(GOOD.replace(": Decoding", ":\tDecoding"), False, id="tab-separation"),
    pytest.param(GOOD + "keywords: ['a'\t]\n", False, id="tab-in-flow"),
    pytest.param(GOOD.replace("\n", "\r\n"), True, id="crlf"),
    pytest.param("\ufeff" + GOOD, True, id="byte-order-mark"),
    pytest.param(GOOD + "keywords: [a\ufeffb]\n", False, id="inner-byte-order-mark"),
    pytest.param(GOOD + "keywords: [a\x85b]\n", False, id="nel"),
    pytest.param(GOOD + "keywords: [a\u2028b]\n", False, id="line-separator"),
    pytest.param(GOOD + "keywords: [a\x7fb]\n", False, id="del-character"),
    pytest.param(GOOD + "keywords: [!!str 12]\n", False, id="tag"),
    pytest.param(GOOD + "keywords: [!!python/name:os.system]\n", False, id="python-tag"),
    pytest.param(GOOD + "notify:\n  <<: {email: a@lab.example}\n", False, id="merge-key"),
    pytest.param(GOOD + "keywords: &k [a]\nexclude: *k\n", False, id="anchor-alias"),
    pytest.param(GOOD + "keywords: &k [a]\n", True, id="anchor-only"),
    pytest.param(GOOD + "keywords: [a:b, 'c: d']\n", False, id="colon-in-flow"),
    pytest.param(GOOD + 'notify:\n  slack: ["#a":b]\n', False, id="json-key-in-flow-list"),
    pytest.param(GOOD + "description: |-\n  two\n  lines\n", False, id="block-scalar-dup"),
    pytest.param("name: Reader\ndescription: >+\n  folded\n  text\n\n", True, id="folded"),
    pytest.param("---\n" + GOOD + "...\n", True, id="document-markers"),
    pytest.param(GOOD + "---\nname: Two\n", False, id="two-documents"),
    pytest.param("", False, id="empty"),
    pytest.param("- a\n- b\n", False, id="a-list"),
    pytest.param(GOOD + "? [a, b]\n: c\n", False, id="complex-key"),
    pytest.param(GOOD + "notify:\n  slack: #papers\n", False, id="unquoted-channel"),
    pytest.param(GOOD + "notify:\n  slack: '#papers'  # the lab\n", True, id="comment-after"),
    pytest.param(GOOD + "library:\n  zotero:\n    user: 475425\n", True, id="zotero"),
    pytest.param(GOOD + 'keywords: ["\\N\\L\\P\\/\\t\\x41\\u00e9"]\n', True, id="escapes"),
    pytest.param(GOOD + 'keywords: [émoji 🎉, "\U0001d518"]\n', True, id="unicode"),
    pytest.param(GOOD + "keywords:\n- a\n-   b\n- - c\n", False, id="nested-list"),
    pytest.param("[" * 60 + "]" * 60 + "\n", False, id="deep-nesting"),
    pytest.param(GOOD + "keywords: " + "[" * 49 + "a" + "]" * 49 + "\n", False, id="49-levels"),
    # libyaml's composer would recurse in C until the process crashes (a segmentation fault)
    pytest.param("keywords: " + "[" * 100_000 + "]" * 100_000, False, id="crashing-depth"),
    pytest.param("keywords:\n" + "- " * 100_000 + "x\n", False, id="crashing-compact-depth"),
]


@pytest.mark.parametrize(("text", "fast"), TRICKY)
def test_tricky_yaml_reads_the_same(tmp_path: Path, text: str, fast: bool) -> None:
    path = tmp_path / "p.yaml"
    got, rt = both(path, text)
    assert got == rt
    assert fast_answers(path, text) == fast


def test_a_broken_file_read_from_disk_names_its_line(tmp_path: Path) -> None:
    # Through the file (no text given), as `load_profiles` reads it, and not UTF-8 at all.
    path = tmp_path / "p.yaml"
    path.write_text(GOOD + "max_per_digest: 20:00\n", encoding="utf-8")
    fast = outcome(lambda: load_profile(path))
    assert fast == outcome(lambda: config._round_trip_profile(path, None))
    assert fast[0] == "error" and f"{path}:3: max_per_digest: unquoted 20:00" in str(fast[1])
    path.write_bytes(b"name: \xff\n")
    assert outcome(lambda: load_profile(path)) == ("error", (f"{path}: not UTF-8 text", None))


# ------------------------------------------------------------------ generated documents

# Scalars whose reading differs between YAML 1.1 and 1.2, between loaders, or between quoted
# and plain; written plain, single- or double-quoted at random.
SCALARS = [
    *("yes", "No", "on", "OFF", "y", "true", "False", "null", "~", ""),
    *("0o12", "012", "0x1F", "0b101", "1_000", "+12", "-0", "08", "1__0"),
    *("20:00", "1:30:00", "190:20:30.15", "-1:30"),
    *("2024-01-02", "2024-01-02 10:00:00", "2024-01-02T10:00:00Z", "2024-13-45"),
    *("1e3", "1.5E-3", ".inf", "-.Inf", ".NaN", "0.5", ".5", "5.", "0.9_9"),
    *("2401.01234", "0704.0001", "2401.10", "2401.10000", "hep-th/9901001", "arXiv:2401.01234v2"),
    *("cs.LG", "hep-th", "CS.lg", "Speculative decoding", "Ünïcödé", "émoji 🎉"),
    *("a: b", "#hash", "x #not", "x#y", "@handle", "%pct", "-dash", "- dash", "[flow]", "{m}"),
    *("trailing ", " leading", "it's", 'say "hi"', "back\\slash", "?q", ":colon", "a,b"),
    *("!bang", "&amp", "*star", "|pipe", ">gt", "<<", "=", "tab\there", "nel\x85x"),
    *("line\u2028sep", "x\x7fy", "bom\ufeffx", "a\nb"),
]
# Values of the typed keys, most of them valid in some spelling.
NUMBERS = ["0.5", "0.99", ".5", "1", "0", "1e-1", "0.9_9", "5E-1", "+.5", "1.0", "'0.5'", "yes"]
COUNTS = ["5", "0o12", "012", "0x0a", "1_0", "+7", "0b11", "500", "10.0", "'5'", "501"]
IDS = ["2401.01234", "0704.0001", "hep-th/9901001", "arXiv:2401.01234v2", "2401.10", "12.5"]
CATEGORIES = ["cs.LG", "cs.AI", "hep-th", "math.AP", "q-bio.NC", "cs.lg", "CS.LG"]
EMAILS = ["reader@lab.example", "'Ann <ann@lab.example>'", '"b@lab.example"', "not an address"]
CHANNELS = ["'#papers'", '"#papers"', "'@ann'", "C0123ABCD", "['#a', '#b']", "#papers"]


def render(rng: random.Random, value: str) -> str:
    style = rng.choice(("plain", "plain", "single", "double"))
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    if style == "double":
        return json.dumps(value, ensure_ascii=rng.random() < 0.5)
    return value


def seq(rng: random.Random, items: list[str]) -> str:
    """A list, in flow style or block style (two indentations), after `key:`."""
    if rng.random() < 0.5:
        return " [" + ", ".join(items) + "]\n"
    dash = rng.choice(("- ", "  - ", "    -   "))
    return "\n" + "".join(f"{dash}{item}\n" for item in items)


WORDS = ["speculative decoding", "graph neural networks", "LLM", "Ann Lee", "RMSNorm", "pre-LN"]


def document(rng: random.Random, i: int) -> str:
    """A profile text; one in six values a tricky one, so that about half the documents are
    valid profiles (the fast path answers) and the others are the round-trip path's to refuse."""
    pick = rng.choice

    def one(pool: list[str]) -> str:
        return render(rng, pick(SCALARS)) if rng.random() < 1 / 6 else pick(pool)

    def some(pool: list[str], k: int = 3) -> list[str]:
        return [one(pool) for _ in range(rng.randint(1, k))]

    keys: list[str] = [f"name: {one([f'Reader {i}'])}\n"]
    description = one(["New research in decoding.", "Layer normalization, where to put it"])
    block = pick(("|", "|-", "|+", ">", ">-", "|2"))
    keys.append(
        pick(
            (
                f"description: {description}\n",
                f"description: {block}\n  {description}\n   more\n\n  last\n",
            )
        )
    )
    fields = {
        "keywords": lambda: "keywords:" + seq(rng, some(WORDS, 4)),
        "exclude": lambda: "exclude:" + seq(rng, some(WORDS)),
        "min_score": lambda: f"min_score: {pick(NUMBERS)}\n",
        "max_per_digest": lambda: f"max_per_digest: {pick(COUNTS)}\n",
        "upvote_weight": lambda: f"upvote_weight: {pick(NUMBERS)}\n",
        "papers": lambda: "papers:" + seq(rng, [render(rng, pick(IDS)) for _ in range(2)]),
        "not_like": lambda: "not_like:" + seq(rng, [render(rng, pick(IDS))]),
        "categories": lambda: "categories:" + seq(rng, some(CATEGORIES)),
        "category_boost": lambda: (
            "category_boost: {" + f"{pick(CATEGORIES)}: {pick(NUMBERS)}" + "}\n"
        ),
        "authors": lambda: "authors:" + seq(rng, some(["Ann Lee", "  Bo  Chen ", "Émile Zola"])),
        "notify": lambda: (
            f"notify:\n  email: {pick(EMAILS)}\n"
            + (f"  slack: {pick(CHANNELS)}\n" if rng.random() < 0.5 else "")
        ),
        "library": lambda: f"library:\n  zotero:\n    user: {one(['475425'])}\n",
    }
    for key in rng.sample(sorted(fields), rng.randint(1, 6)):
        keys.append(fields[key]())
    rng.shuffle(keys)
    text = "".join(keys)
    # Now and then, what an editor or a person adds around the keys.
    if rng.random() < 0.2:
        text = "# a profile\n" + text.replace("\n", "  # note\n", 1)
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    if rng.random() < 0.05:
        text = "\ufeff" + text
    if rng.random() < 0.05:
        text = "---\n" + text + "...\n"
    if rng.random() < 0.05:
        text = text.replace(": ", ":\t", 1)
    if rng.random() < 0.03:
        text = "%YAML 1.1\n---\n" + text
    if rng.random() < 0.03:
        text = text.replace(": ", ": !!str ", 1)
    if rng.random() < 0.03:
        text += text.splitlines(keepends=True)[0]  # a duplicate key
    if rng.random() < 0.03:
        text += "threshold: 0.5\n"  # an unknown key
    return text


def test_generated_documents_read_the_same(tmp_path: Path) -> None:
    rng = random.Random(17)
    path = tmp_path / "p.yaml"
    answered = 0
    for i in range(400):
        text = document(rng, i)
        got, rt = both(path, text)
        assert got == rt, text
        answered += got[0] == "profile" and fast_answers(path, text)
    # The comparison means something only if both paths took part: the fast one answered for a
    # good share of the documents (95 of 400 with this seed), the round-trip one for the rest.
    assert 80 <= answered <= 320, answered


# ------------------------------------------------------------------ the plain data itself

# YAML corners beyond profiles: `plain_data` gives what the round-trip loader reads, or None.
SNIPPETS = [
    *("d: first line\n  second line\n\n  third\n", "d: 'first\n  second\n\n  third  '\n"),
    *('d: "first \\\n  second\n\n   third"\n', "d: |\n\n  x\n", "d: |\n   \n  x\n"),
    *("d: |\n    x\n  y\n", "d: >\n  a\n    b\n  c\n\n  d\n", "d: |+\n  x\n\n", "d: |-\n  x   "),
    *(
        "d: >-\n  x\n\n\n",
        "d: |1\n  x\n",
        "d: x\n#c\n  y\n",
        "d: [a,\n  b]\n",
        "d: {a: b,\n c: d}\n",
    ),
    *("d: x # c\n", "d: x#c\n", "d:\n  - a\n  -\n  - c\n", "? d\n: x\n", "d: 'it''s'\n"),
    *('d: "\\x41\\u00e9\\U0001F600"\n', 'd: "\\e\\a\\0\\ \\_"\n', "d: -x\n", "d: :x\n"),
    *("d: x\r\n  y\r\n", "d: x\ry\n", "---\nd: x\n", "d: x\n...\n", "d:   \n  x\n"),
    *(" d: x\n e: y\n", "d: [a, b,]\n", "d: {a: }\n", "d: [a: b]\n", "d: ['a': b]\n"),
    *('d: ["a":b]\n', 'd: ["a" :b]\n', 'd: [? "a":b]\n', 'd: {"a":b}\n', "d: {'a':[b]}\n"),
    *("d: 1.0.0\n", "d: 0.1e+3\n", "d: 1e+3\n", "d: +.inf\n", "d: .NAN\n", "d: tRue\n"),
    *("d: 2001-12-14t21:59:43.10-05:00\n", "d: 2001-12-14 21:59:43.10 -5\n", "d: 2001-1-1\n"),
    *("d: 0o8\n", "d: -0o7\n", "d: 0b2\n", "d: 1_000.000_1\n", "d: 12:30:45.5\n"),
    *("d: \u00a0x\n", "d: x\u00a0\n", "d: \u3000x\n", "d: x\u200by\n", "d: \ue000\n"),
    *('d: "\\ud83d\\ude00"\n', 'd: "\\ud800"\n', "d: \ufffe\n", "1: x\n", "~: x\n"),
    *("d: [[a, [b]], {c: [d]}]\n", "d: {a: {b: {c: d}}}\n", "d:\n- - a\n  - b\n- c\n"),
    # control characters: refused by both readers (a NUL must not end libyaml's input early)
    *("name: X\ndescription: d\n\x00\nkeywords: [unclosed", "d: x\x00\n", "d: x\n\x00"),
    *("d: x\x01\n", "d: x\x1b\n", "d: x\x9f\n", "d: x\ud800\n"),
]


def shape(node: Any) -> Any:
    """`node` (as either loader built it) as plain values tagged with their base type: a
    ScalarString is a str, a CommentedMap a dict, a TimeStamp a datetime; NaN equals NaN."""
    if isinstance(node, dict):
        return ("dict", [(shape(k), shape(v)) for k, v in node.items()])
    if isinstance(node, list):
        return ("list", [shape(v) for v in node])
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return (kind.__name__, repr(kind(node)))
    if isinstance(node, (datetime, date)):
        return (type(node).__mro__[-2].__name__, node.isoformat())
    return (type(node).__name__, repr(node))  # anything else (a TaggedScalar) is a difference


def round_trip_data(text: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml.load(io.StringIO(text))


def test_plain_data_is_what_round_trip_reads_or_none() -> None:
    rng = random.Random(17)
    texts = [
        *SNIPPETS,
        *(p.values[0] for p in TRICKY),
        *(text for text, *_ in BROKEN_PROFILES_TEXTS),
        *(document(rng, i) for i in range(400)),
    ]
    answered = 0
    for text in texts:
        data = yaml_fast.plain_data(text)
        if data is not None:
            assert shape(data) == shape(round_trip_data(text)), text
            answered += 1
    assert answered >= 200, answered
