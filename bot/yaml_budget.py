"""Budgets for the shape of a YAML file, checked on the parser's events before the file is
composed: nested aliases (a "billion laughs") and absurd nesting are refused at their line.

ruamel's loader itself is safe from aliases: an alias becomes a second reference to the object
of its anchor, so a 350-byte file loads in milliseconds. But everything after it walks the tree
as a tree (our plain-scalar check, pydantic), and nine lines of nine aliases each are 9**9 (387
million) nodes to walk: minutes of CPU per file, on every run of the daemon. So each alias adds
the size of its anchored node (the whole subtree) to a running count, and past `ALIAS_BUDGET`
added nodes the file is refused at that alias's line. Ordinary anchors and merge keys
(`<<: *defaults` in bot.yaml) stay well within it. An alias inside the node it names (a
structure that contains itself) is refused too: nothing downstream could walk it.

Nesting: ruamel's scanner slows down with the square of the depth (2,000 nested `[` take 20 s)
and its constructor recurses once per level (a few hundred levels raise RecursionError), while
a real config nests four or five levels. Past `MAX_DEPTH` the file is refused, and the parse
stops there.
"""

from __future__ import annotations

from collections.abc import Iterable

from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    ScalarEvent,
)

from bot.errors import ConfigError

# Nodes aliases may add to a file: hundreds of times what a hand-written config needs, and a
# walk of that size takes milliseconds.
ALIAS_BUDGET = 10_000
MAX_DEPTH = 50  # nested mappings and lists


# Every nesting level past the top one is opened by one of these (or by a new line): a block
# sequence's "-" (also "- - x" on one line), a mapping's ":" or "?", a flow "[" or "{".
_OPENERS = ("\n", "-", ":", "?", "[", "{")


def may_break_budget(text: str, max_depth: int = MAX_DEPTH) -> bool:
    """False only when `text` cannot break a budget whatever it holds: no alias (no "*" at all)
    and fewer characters that can open a nesting level than `max_depth`. A short hand-written
    profile is so; its parse for `check_budget` is then skipped."""
    return "*" in text or sum(text.count(c) for c in _OPENERS) >= max_depth


def check_budget(
    events: Iterable[Event], file: str, budget: int = ALIAS_BUDGET, max_depth: int = MAX_DEPTH
) -> None:
    """Raise ConfigError (file, line) when aliases would expand the document by more than
    `budget` nodes or refer to a node that contains them, or when it nests deeper than
    `max_depth`. Linear in the events, and stops reading at the first problem."""
    sizes: dict[str, int] = {}  # anchor -> nodes in its subtree, aliases expanded
    open_nodes: list[tuple[str | None, int]] = []  # per open collection: anchor, count at start
    count = added = 0  # nodes so far, aliases expanded; nodes added by aliases
    for event in events:
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, AliasEvent):
            name = str(event.anchor)
            if name not in sizes:  # still open (undefined ones are the parser's to report)
                if any(anchor == name for anchor, _ in open_nodes):
                    raise ConfigError(
                        f"alias *{name} is inside the node it names "
                        "(a structure that contains itself)",
                        file=file,
                        line=line,
                        hint=f"remove the alias *{name}",
                    )
                continue
            count += sizes[name]
            added += sizes[name]
            if added > budget:
                raise ConfigError(
                    f"alias *{name} makes the file expand to more than {budget} nodes "
                    "(nested aliases, a 'billion laughs')",
                    file=file,
                    line=line,
                    hint="write the values out instead of aliasing aliases",
                )
        elif isinstance(event, ScalarEvent):
            count += 1
            if event.anchor is not None:
                sizes[str(event.anchor)] = 1
        elif isinstance(event, CollectionStartEvent):
            if len(open_nodes) >= max_depth:
                raise ConfigError(
                    f"nested more than {max_depth} levels deep",
                    file=file,
                    line=line,
                    hint="a config needs a few levels: check the brackets and the indentation",
                )
            anchor = None if event.anchor is None else str(event.anchor)
            if anchor is not None:
                sizes.pop(anchor, None)  # redefined: aliases inside refer to this node
            open_nodes.append((anchor, count))
            count += 1
        elif isinstance(event, CollectionEndEvent):
            anchor, start = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = count - start
