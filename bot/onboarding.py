"""First steps: `digestbot init` (a starter config folder) and `digestbot profile new` (a profile).

The starter files are package data, `bot/templates/config/`: the same bytes as the repository's
shipped `config/` (a test keeps the two equal), laid out the same way, so `digestbot init DIR`
gives `DIR/config/bot.yaml`, `DIR/config/profiles/normalization.yaml` and, on the first run,
`DIR/data/`: every relative path in bot.yaml works, and from DIR the default `--config` finds it.

A new profile is the shipped example profile with its values replaced (name, description,
keywords, exclude; the destination commented out), so its comments are written once. Nothing here
overwrites a file unless asked (`init --force`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from importlib.resources import files
from pathlib import Path

TEMPLATES = files("bot") / "templates"
# The starter files, relative to the folder `init` writes into (and to bot/templates/).
STARTER_FILES = ("config/bot.yaml", "config/profiles/normalization.yaml")
EXAMPLE_PROFILE = STARTER_FILES[1]
MAX_SLUG = 60


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


def new_profile_text(name: str) -> str:
    """A commented profile titled `name` that passes `digestbot check` as written: the example
    profile with `name` as its title and description, no keywords or exclusions, and its
    destination commented out (digests print to the console until one is set)."""
    title = " ".join(name.split())
    quoted = json.dumps(title, ensure_ascii=False)  # a JSON string is a YAML string
    text = TEMPLATES.joinpath(*EXAMPLE_PROFILE.split("/")).read_text(encoding="utf-8")
    for key, entry in (
        ("name", f"name: {quoted}\n"),
        ("description", f"description: {quoted}\n"),
        ("keywords", "keywords: []\n"),
        ("exclude", "exclude: []\n"),
        ("notify", '# notify:\n#   slack: "#papers"\n'),
    ):
        text = _replace_entry(text, key, entry)
    return text


def write_new_profile(folder: Path, name: str) -> Path:
    """Write `new_profile_text(name)` as `<slug>.yaml` in `folder` (created if missing).
    Raises ValueError for a name without a slug, FileExistsError if that profile exists."""
    slug = slugify(name)
    if not slug:
        raise ValueError(f"{name!r} has no letters or digits to name the file after")
    for ext in (".yaml", ".yml"):
        if (folder / f"{slug}{ext}").exists():
            raise FileExistsError(folder / f"{slug}{ext}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.yaml"
    with path.open("x", encoding="utf-8") as out:
        out.write(new_profile_text(name))
    return path


def _replace_entry(text: str, key: str, entry: str) -> str:
    """`text` with the top-level `key:` entry (its line and indented continuation lines)
    replaced by `entry`."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(f"{key}:"):
            end = i + 1
            while end < len(lines) and lines[end].startswith((" ", "\t")):
                end += 1
            return "".join([*lines[:i], entry, *lines[end:]])
    raise LookupError(f"the example profile has no top-level `{key}:`")  # a packaging bug
