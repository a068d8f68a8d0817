"""First steps: `digestbot init` (a starter config folder) and `digestbot profile new` (a profile).

The starter files are package data, `bot/templates/config/`: the same bytes as the repository's
shipped `config/` (a test keeps the two equal), laid out the same way, so `digestbot init DIR`
gives `DIR/config/bot.yaml`, `DIR/config/profiles/normalization.yaml` and, on the first run,
`DIR/data/`: every relative path in bot.yaml works, and from DIR the default `--config` finds it.

A new profile is the shipped example profile with its values replaced (name, description,
keywords, exclude; the destination commented out), so its comments are written once. Nothing here
overwrites a file unless asked (`init --force`).

`profile new NAME --from-bibtex FILE` (`library_profile_text`) seeds one from the user's library:
`library: {bibtex: FILE}` (its papers become examples, bot/relevance/library.py), and a
description and keywords made of the library's most distinctive terms (`distinctive_terms`:
TF-IDF of its titles and abstracts against the stored corpus when there is one, else within the
library), so the profile reads as what the library is about and can be edited from there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from bot.errors import StateError
from bot.relevance.library import distinctive_terms, read_bibtex
from bot.relevance.tfidf import DocFreqs
from bot.state.backend import StateTarget
from bot.state.store import Store

log = logging.getLogger(__name__)

TEMPLATES = files("bot") / "templates"
# The starter files, relative to the folder `init` writes into (and to bot/templates/).
STARTER_FILES = ("config/bot.yaml", "config/profiles/normalization.yaml")
EXAMPLE_PROFILE = STARTER_FILES[1]
MAX_SLUG = 60
LIBRARY_TERMS = 10  # distinctive terms in a library profile's description ...
LIBRARY_KEYWORDS = 4  # ... the first of them also its keywords


def starter_files() -> dict[str, bytes]:
    """The starter files' contents, by path relative to the folder they are written into."""
    return {name: TEMPLATES.joinpath(*name.split("/")).read_bytes() for name in STARTER_FILES}


def existing_starter_files(folder: Path) -> list[Path]:
    """The starter files `init` would overwrite in `folder`."""
    return [folder / name for name in STARTER_FILES if (folder / name).exists()]


def write_starter(folder: Path, *, force: bool = False) -> list[Path]:
    """Write the starter files into `folder`; an existing one raises FileExistsError unless
    `force` (check with `existing_starter_files` first to refuse before writing anything)."""
    written = []
    for name, content in starter_files().items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb" if force else "xb") as out:
            out.write(content)
        written.append(path)
    return written


def slugify(name: str) -> str:
    """A profile's file name (its id) from its title: ASCII letters and digits joined by
    dashes, e.g. "Retrieval-augmented generation (RAG)" -> "retrieval-augmented-generation-rag".
    "" when the title has no letter or digit that ASCII can spell."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-")


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML string


def new_profile_text(
    name: str,
    *,
    description: str | None = None,
    keywords: Sequence[str] = (),
    bibtex: str | None = None,
) -> str:
    """A commented profile titled `name` that passes `digestbot check` as written: the example
    profile with `name` as its title, `description` (default: the title) and `keywords`, no
    exclusions, `library: {bibtex: ...}` when given, and its destination commented out
    (digests print to the console until one is set)."""
    title = " ".join(name.split())
    text = TEMPLATES.joinpath(*EXAMPLE_PROFILE.split("/")).read_text(encoding="utf-8")
    for key, entry in (
        ("name", f"name: {_quoted(title)}\n"),
        ("description", f"description: {_quoted(description or title)}\n"),
        ("keywords", f"keywords: [{', '.join(_quoted(k) for k in keywords)}]\n"),
        ("exclude", "exclude: []\n"),
        ("notify", '# notify:\n#   slack: "#papers"\n'),
    ):
        text = _replace_entry(text, key, entry)
    if bibtex is not None:
        text = _replace_entry(text, "library", f"library:\n  bibtex: {_quoted(bibtex)}\n", "# ")
    return text


def library_profile_text(name: str, bib: Path, folder: Path, state: StateTarget | None) -> str:
    """A profile titled `name` seeded from the BibTeX file `bib`, to be written into `folder`:
    its description and keywords are the library's most distinctive terms (against the stored
    corpus of `state`, when it has one). Raises LibraryError if `bib` cannot be read."""
    found = read_bibtex(bib)
    store = _open_corpus(state)
    try:
        terms = distinctive_terms(found.texts, store.corpus if store else None, LIBRARY_TERMS)
    finally:
        if store is not None:
            store.close()
    about = f": {', '.join(terms)}." if terms else "."
    description = f"Papers like the {len(found.texts)} of {bib.name}{about}"
    where = Path(os.path.relpath(bib.resolve(), folder.resolve())).as_posix()
    return new_profile_text(
        name, description=description, keywords=terms[:LIBRARY_KEYWORDS], bibtex=where
    )


def _open_corpus(state: StateTarget | None) -> Store | None:
    """The state (read-only) whose stored corpus weighs the terms; None if there is none."""
    if state is None or (isinstance(state, Path) and not state.is_file()):
        return None
    try:
        store = Store.open_readonly(state)
    except StateError as exc:  # an old or unreadable state: weigh within the library
        log.warning("the state's corpus is not read (%s): terms weighed within the library", exc)
        return None
    corpus: DocFreqs = store.corpus
    if corpus.n_docs() == 0:
        store.close()
        return None
    return store


def write_new_profile(folder: Path, name: str, text: str | None = None) -> Path:
    """Write `text` (default `new_profile_text(name)`) as `<slug>.yaml` in `folder` (created
    if missing). Raises ValueError for a name without a slug, FileExistsError if that profile
    exists."""
    slug = slugify(name)
    if not slug:
        raise ValueError(f"{name!r} has no letters or digits to name the file after")
    for ext in (".yaml", ".yml"):
        if (folder / f"{slug}{ext}").exists():
            raise FileExistsError(folder / f"{slug}{ext}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.yaml"
    with path.open("x", encoding="utf-8") as out:
        out.write(new_profile_text(name) if text is None else text)
    return path


def _replace_entry(text: str, key: str, entry: str, comment: str = "") -> str:
    """`text` with the top-level `key:` entry (its line and indented continuation lines)
    replaced by `entry`; with `comment` ("# "), the entry commented out that way."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(f"{comment}{key}:"):
            end = i + 1
            while end < len(lines) and lines[end].startswith(
                (f"{comment} ", f"{comment}\t") if comment else (" ", "\t")
            ):
                end += 1
            return "".join([*lines[:i], entry, *lines[end:]])
    raise LookupError(f"the example profile has no top-level `{key}:`")  # a packaging bug
