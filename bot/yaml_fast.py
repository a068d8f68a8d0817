"""The fast reading of a YAML text: libyaml's C parser (ruamel.yaml.clib) into plain Python data,
only for a text that ruamel's round-trip loader (bot/config.py `_load_yaml`) reads to the same
values.

Why: the round-trip loader is pure Python and keeps every line and comment, about 2.5 ms for a
short profile; the C parser with the safe constructor takes a fifth of that. A long-lived daemon
caches parsed profiles (`ProfileCache`), but every CLI command is a fresh process that parses
every profile file: for an institution's 10,000 profiles that was most of a worker's start-up.

The plain data has no line numbers and cannot tell a quoted scalar from a plain one, so it is a
first try only: bot/config.py uses it when the profile it gives validates, and otherwise reads
the file again the round-trip way, which decides and reports the error with its line. Both
loaders share ruamel's YAML 1.2 resolver (`yes` and `on` are text, `0o12` is 10, `1:30` is
text; dates are dates), so plain values agree. `plain_data` declines (None) where they may not:

- an alias (`*`, a "billion laughs": bot/yaml_budget.py's check on the round-trip path decides),
  nesting `MAX_DEPTH` levels or more (that check refuses it), or a key that is not text;
- a mapping inside a list: libyaml reads a one-pair mapping in a flow list written JSON-like,
  `["a":b]` or `["a" :b]`, where ruamel refuses the file; no profile key holds one anyway;
- `_MAX_OPENERS` characters that can open a nesting level: libyaml's composer recurses in C once
  per level, beyond Python's recursion limit, and 50,000 nested `[` crash the process (a
  segmentation fault; 20,000 pass, in a thread too). Every level is opened by one of `[{-:?`,
  so a text with fewer of them cannot nest that deep; a longer one goes the round-trip way,
  whose budget check stops reading at `MAX_DEPTH` levels;
- a tag (`!`), a merge key (`<<`) or a directive (`%` opening a line): round-trip builds other
  objects (a TaggedScalar for `!!str 1`) or reads another YAML version;
- a tab, NEL, LS, PS or a byte-order mark inside the text: libyaml accepts a tab as separation
  where ruamel's scanner refuses the file, and the others are line breaks to one and not the
  other;
- anything the C parser or the constructor raises (a syntax error, a duplicate key, a bad date).

Without ruamel.yaml.clib (another Python than CPython) it always declines.
"""

from __future__ import annotations

import io
import re
from typing import Any

import ruamel.yaml.main
from ruamel.yaml import YAML

from bot.yaml_budget import MAX_DEPTH

# Characters that send a text to the round-trip path (see the module docstring).
_DEFER_CHARS = ("*", "!", "<<", "\t", "\x85", "\u2028", "\u2029", "\ufeff")
_DIRECTIVE = re.compile(r"^%", re.MULTILINE)
_MAX_OPENERS = 2_000  # a tenth of the nesting the C parser was seen to survive
# libyaml's parser, as ruamel imported it: None without ruamel.yaml.clib.
_C_PARSER = getattr(ruamel.yaml.main, "CParser", None)


def available() -> bool:
    """True when the C parser is installed (ruamel.yaml.clib)."""
    return _C_PARSER is not None


def plain_data(text: str) -> Any | None:
    """`text` read by the C parser into dicts, lists and scalars, or None when this reading may
    differ from the round-trip loader's (or fails, or is empty: the round-trip path decides)."""
    body = text.removeprefix("\ufeff")  # a leading byte-order mark is skipped by both
    if (
        _C_PARSER is None
        or any(c in body for c in _DEFER_CHARS)
        or _DIRECTIVE.search(body)
        or sum(body.count(c) for c in "[{-:?") >= _MAX_OPENERS
    ):
        return None
    yaml = YAML(typ="safe", pure=False)
    try:
        data = yaml.load(io.StringIO(body))
    except Exception:  # any failure: the round-trip path decides, and reports it
        return None
    return data if _tree(data, 1) else None


def _tree(node: Any, depth: int, in_list: bool = False) -> bool:
    """True when `node` nests fewer than MAX_DEPTH collections, its keys are all text and no
    list holds a mapping. Without aliases the data is the document's tree, so this is the depth
    check_budget counts on the parser's events (it refuses a collection MAX_DEPTH levels below
    the top one)."""
    if isinstance(node, dict):
        if in_list or not all(isinstance(key, str) for key in node):
            return False
        items: Any = node.values()
    elif isinstance(node, list):
        items = node
    else:
        return True
    inner = isinstance(node, list)
    return depth < MAX_DEPTH and all(_tree(item, depth + 1, inner) for item in items)
