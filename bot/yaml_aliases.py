"""A budget for YAML aliases: nested aliases (a "billion laughs") are refused before anything
expands them.

ruamel's loader itself is safe from them: an alias becomes a second reference to the object of
its anchor, so a 350-byte file loads in milliseconds. But everything after it walks the tree as
a tree (our plain-scalar check, pydantic), and nine lines of nine aliases each are 9**9 (387
million) nodes to walk: minutes of CPU per file, on every run of the daemon. So the YAML events
are counted first, before the file is composed: each alias adds the size of its anchored node
(the whole subtree) to a running count, and past `ALIAS_BUDGET` added nodes the file is refused
at that alias's line. Ordinary anchors and merge keys (`<<: *defaults` in bot.yaml) stay well
within it. An alias inside the node it names (a structure that contains itself) is refused too:
nothing downstream could walk it.
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


def check_aliases(events: Iterable[Event], file: str, budget: int = ALIAS_BUDGET) -> None:
    """Raise ConfigError (file, line of the alias) when aliases would expand the document by
    more than `budget` nodes or refer to a node that contains them. Linear in the events."""
    sizes: dict[str, int] = {}  # anchor -> nodes in its subtree, aliases expanded
    open_anchors: list[tuple[str | None, int]] = []  # per open collection: anchor, count at start
    count = added = 0  # nodes so far, aliases expanded; nodes added by aliases
    for event in events:
        if isinstance(event, AliasEvent):
            name = str(event.anchor)
            line = event.start_mark.line + 1 if event.start_mark else None
            if name not in sizes:  # still open (undefined ones are the parser's to report)
                if any(anchor == name for anchor, _ in open_anchors):
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
            anchor = None if event.anchor is None else str(event.anchor)
            if anchor is not None:
                sizes.pop(anchor, None)  # redefined: aliases inside refer to this node
            open_anchors.append((anchor, count))
            count += 1
        elif isinstance(event, CollectionEndEvent):
            anchor, start = open_anchors.pop()
            if anchor is not None:
                sizes[anchor] = count - start
