"""Profiles' example papers from the user's own library: a BibTeX file, a Zotero library.

A profile may say (bot/config.py reads it; paths are relative to the profile file)

    library:
      bibtex: refs/my.bib
      zotero: {user: 475425, collection: "To read", api_key_env: ZOTERO_API_KEY}

Each entry of a library becomes one example paper (`_example`), in the first way that works:

- its title and abstract are known (a BibTeX `abstract`, Zotero's `abstractNote`): a `Paper`
  used as it is, never looked up (`Profile.library_papers`);
- an arXiv id (BibTeX `eprint` with `archivePrefix`/`eprinttype` arXiv, a `10.48550/arXiv.` DOI,
  an arxiv.org link, "arXiv:2305.11832" in `journal`/`note`, as Zotero and Google Scholar write
  it): looked up like the YAML's `papers:` (bot/relevance/examples.py: the state, then the arXiv
  API once, cached);
- a DOI only: the id `doi:<doi>`, found when a source stored that paper; else named in a
  warning and scored without it (no source that serves any DOI's abstract is configured);
- none of these: skipped, named in a warning.

An example's id is its arXiv id, else `doi:` and its DOI in lower case (DOIs are
case-insensitive), else `bibtex:<cite key>` or `zotero:<user>/<item key>`.

The BibTeX file is read when the profile is loaded: a file that is missing or does not parse
is a `LibraryError` that bot/config.py reports as the profile's error (with the .bib file's
line), so `check` shows it and a run skips that profile only. Zotero is read at run time
(`with_zotero`), through our `Http` client (its address gate, retries, Retry-After, deadlines,
and loopback tests; pyzotero would bring its own HTTP stack around the gate, and pins
bibtexparser 1). A Zotero library that cannot be read (network down, 403, 404, an unknown
collection) does not stop the profile: it is scored with its other examples, a warning says
why, and the next run asks again. The API key goes in the `Zotero-API-Key` header, never in a
URL, so no error message or log line can carry it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import DigestbotError, FetchError
from bot.http import Http, Pace
from bot.identity import DOI_PREFIX, normalize_doi
from bot.models import Paper, Profile, ZoteroLibrary, fold_whitespace, split_arxiv_id
from bot.relevance.reasons import prose, readable
from bot.relevance.tfidf import DocFreqs, idf, terms_of

if TYPE_CHECKING:
    from bibtexparser.model import Entry

log = logging.getLogger(__name__)

ZOTERO_TYPES = ("journalArticle", "conferencePaper", "preprint")
ZOTERO_PAGE = 100  # the API's largest page
ZOTERO_MAX_ITEMS = 10_000  # a bound on one library's pages (100 requests)
ZOTERO_PACE = Pace("zotero", 1.0)  # one request a second: the API asks clients to be gentle

_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(?P<id>.+)", re.IGNORECASE)
# Printable ASCII only, as every registered DOI in practice: the id is shown in reasons, and a
# bidi or zero-width character would make it read as another.
# "arXiv:1911.03393 [cs, stat]" (Zotero's `journal`/`note`), "arXiv preprint arXiv:2305.11832"
_ARXIV_MENTION = re.compile(r"\barxiv:\s*(?P<id>\d{4}\.\d{4,5}(?:v\d+)?)", re.IGNORECASE)
_KEY_CHARS = re.compile(r"[^\w:.\-/]+")


class LibraryError(DigestbotError):
    """A library that cannot be read: a BibTeX file missing or malformed, Zotero refusing.
    `line` is the 1-based line of a BibTeX file, when known."""

    def __init__(self, message: str, hint: str | None = None, *, line: int | None = None):
        super().__init__(message, hint)
        self.line = line


@dataclass(frozen=True)
class LibraryExamples:
    """What one library gives a profile: the example ids in library order (`papers` are
    among them, with their text) and the entries skipped, each named."""

    ids: tuple[str, ...] = ()
    papers: tuple[Paper, ...] = ()
    skipped: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()  # every entry's title and abstract (what the library is about)


# --------------------------------------------------------------------------- one entry


def _arxiv_id(
    eprint: str, prefix: str, doi: str | None, urls: Iterable[str], mentions: Iterable[str]
) -> str | None:
    """The arXiv id an entry names, by eprint, arXiv DOI, arxiv.org link or "arXiv:" mention."""
    candidates: list[str] = []
    if eprint and (prefix.strip().lower() == "arxiv" or eprint.lower().startswith("arxiv:")):
        candidates.append(eprint)
    if doi:
        m = _ARXIV_DOI.fullmatch(doi)
        if m:
            candidates.append(m.group("id"))
    candidates.extend(u for u in urls if "arxiv.org/" in u.lower())
    for text in mentions:
        candidates.extend(m.group("id") for m in _ARXIV_MENTION.finditer(text))
    for candidate in candidates:
        parsed = split_arxiv_id(candidate)
        if parsed is not None:
            return parsed[0]
    return None


def _example(
    fallback_id: str,
    title: str,
    abstract: str,
    *,
    arxiv_id: str | None,
    doi: str | None,
    authors: tuple[str, ...] = (),
    url: str = "",
    source: str,
) -> tuple[str | None, Paper | None]:
    """(id, paper): the example an entry is, with its paper when its text is known;
    (None, None) when it cannot be one."""
    pid = arxiv_id or (DOI_PREFIX + doi if doi else None)
    title, abstract = fold_whitespace(title), fold_whitespace(abstract)
    if title and abstract:
        pid = pid or fallback_id
        paper = Paper(
            id=pid, title=title, abstract=abstract, authors=authors, url=url, source=source
        )
        return pid, paper
    return pid, None


def _collect(rows: Iterable[tuple[str, tuple[str | None, Paper | None]]]) -> LibraryExamples:
    ids: list[str] = []
    papers: dict[str, Paper] = {}
    skipped: list[str] = []
    for name, (pid, paper) in rows:
        if pid is None:
            skipped.append(name)
            continue
        if pid not in ids:
            ids.append(pid)
        if paper is not None:
            papers.setdefault(pid, paper)
    return LibraryExamples(tuple(ids), tuple(papers.values()), tuple(skipped))


# --------------------------------------------------------------------------- BibTeX


def read_bibtex(path: Path) -> LibraryExamples:
    """The example papers of a BibTeX file. Raises LibraryError (with the line) if the file
    cannot be read or a block of it does not parse: a half-read library would silently
    change what the profile means."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LibraryError(f"{path}: no such file", hint="check library.bibtex's path") from exc
    except OSError as exc:
        raise LibraryError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise LibraryError(
            f"{path}: not UTF-8 text",
            hint="save the .bib file as UTF-8 (your reference manager can export it so)",
        ) from exc
    # Imported here: bibtexparser (with pylatexenc) is slow to import and only profiles with a
    # `library: bibtex:` need it, while every scoring run imports this module.
    from bibtexparser.entrypoint import parse_string
    from bibtexparser.middlewares import LatexDecodingMiddleware
    from bibtexparser.model import DuplicateFieldKeyBlock

    # bibtexparser reports a broken block on its logger as well as in `failed_blocks`; the
    # error below says it once, with the line.
    parser_log = logging.getLogger("bibtexparser")
    level = parser_log.level
    parser_log.setLevel(logging.CRITICAL)
    try:
        library = parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    finally:
        parser_log.setLevel(level)
    if library.failed_blocks:
        block = library.failed_blocks[0]
        line = (block.start_line or 0) + 1  # bibtexparser counts from 0
        if isinstance(block, DuplicateFieldKeyBlock):
            twice = ", ".join(sorted(block.duplicate_keys))
            why = f"an entry has the same field twice ({twice})"
        else:
            why = "this entry does not parse (a brace or quote not closed, a missing comma?)"
        more = len(library.failed_blocks) - 1
        raise LibraryError(
            f"{path}:{line}: {why}" + (f" (and {more} more broken block(s))" if more else ""),
            hint="fix the entry (or export the library again from your reference manager)",
            line=line,
        )
    if not library.entries:
        raise LibraryError(
            f"{path}: no BibTeX entries (@article{{...}}, ...) in it",
            hint="point library.bibtex at a .bib file",
        )
    found = _collect((_entry_name(e), _bibtex_example(e)) for e in library.entries)
    texts = (f"{_field(e, 'title')}. {_field(e, 'abstract')}" for e in library.entries)
    return replace(found, texts=tuple(fold_whitespace(t) for t in texts))


def _entry_name(entry: Entry) -> str:
    title = _field(entry, "title")
    return f"{entry.key or '(no key)'} (line {(entry.start_line or 0) + 1}" + (
        f", {title[:60]!r})" if title else ")"
    )


def _field(entry: Entry, name: str) -> str:
    """A field's value, whatever the case of its name (`DOI`, `doi`); "" if absent."""
    for key, fld in entry.fields_dict.items():
        if key.lower() == name and isinstance(fld.value, str):
            return fld.value.strip()
    return ""


def _bibtex_example(entry: Entry) -> tuple[str | None, Paper | None]:
    doi = normalize_doi(_field(entry, "doi")) or normalize_doi(_field(entry, "url"))
    url = _field(entry, "url")
    arxiv_id = _arxiv_id(
        _field(entry, "eprint"),
        _field(entry, "archiveprefix") or _field(entry, "eprinttype"),
        doi,
        [url],
        [_field(entry, "journal"), _field(entry, "note")],
    )
    names = (fold_whitespace(x) for x in _field(entry, "author").split(" and "))
    authors = tuple(a for a in names if a)
    key = (
        _KEY_CHARS.sub("-", entry.key or "")
        or hashlib.sha256(_field(entry, "title").encode()).hexdigest()[:12]
    )
    return _example(
        f"bibtex:{key}",
        _field(entry, "title"),
        _field(entry, "abstract"),
        arxiv_id=arxiv_id,
        doi=doi,
        authors=authors,
        url=url,
        source="bibtex",
    )


# --------------------------------------------------------------------------- Zotero


def read_zotero(http: Http, library: ZoteroLibrary, env: Mapping[str, str]) -> LibraryExamples:
    """The example papers of a Zotero library (or one collection): its items of the types in
    `ZOTERO_TYPES`. Raises LibraryError."""
    headers = {"Zotero-API-Version": "3"}
    if library.api_key_env:
        key = env.get(library.api_key_env, "").strip()
        if not key:
            raise LibraryError(
                f"the environment variable {library.api_key_env} (library.zotero.api_key_env) "
                "is not set",
                hint="set it to a Zotero API key with read access (zotero.org/settings/keys), "
                "or remove api_key_env for a public library",
            )
        headers["Zotero-API-Key"] = key
    base = f"{library.base_url.rstrip('/')}/users/{library.user}"
    where = f"Zotero library of user {library.user}"
    try:
        items_path = "/items"
        if library.collection is not None:
            collections = _pages(http, f"{base}/collections", {}, headers)
            key = _collection_key(collections, library.collection, where)
            items_path = f"/collections/{key}/items"
        items = _pages(http, base + items_path, {"itemType": " || ".join(ZOTERO_TYPES)}, headers)
    except FetchError as exc:
        raise LibraryError(f"{where}: {exc}", hint=_zotero_hint(exc, library)) from exc
    rows = []
    for item in items:
        data = item.get("data") if isinstance(item, dict) else None
        if not isinstance(data, dict) or data.get("itemType") not in ZOTERO_TYPES:
            continue  # attachments, notes, books...: not papers
        rows.append(
            (
                f"zotero item {_text(data.get('key'))} ({_text(data.get('title'))[:60]!r})",
                _zotero_example(library.user, data),
            )
        )
    return _collect(rows)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _zotero_example(user: int, data: Mapping[str, Any]) -> tuple[str | None, Paper | None]:
    doi = normalize_doi(_text(data.get("DOI"))) or normalize_doi(_text(data.get("url")))
    url = _text(data.get("url"))
    archive_id = _text(data.get("archiveID"))  # preprints: "arXiv:2301.00001"
    arxiv_id = _arxiv_id(archive_id, "", doi, [url], [_text(data.get("extra"))])
    creators = data.get("creators")
    if not isinstance(creators, list):
        creators = []
    authors = tuple(
        a
        for a in (
            fold_whitespace(
                _text(c.get("name")) or f"{_text(c.get('firstName'))} {_text(c.get('lastName'))}"
            )
            for c in creators
            if isinstance(c, dict) and c.get("creatorType", "author") == "author"
        )
        if a
    )
    key = _KEY_CHARS.sub("-", _text(data.get("key"))) or "item"
    return _example(
        f"zotero:{user}/{key}",
        _text(data.get("title")),
        _text(data.get("abstractNote")),
        arxiv_id=arxiv_id,
        doi=doi,
        authors=authors,
        url=url,
        source="zotero",
    )


def _pages(
    http: Http, url: str, params: Mapping[str, str | int], headers: Mapping[str, str]
) -> list[Any]:
    """Every object of a paged Zotero listing (`Total-Results` says how many)."""
    out: list[Any] = []
    start = 0
    while start < ZOTERO_MAX_ITEMS:
        with http.day_deadline():
            response = http.get(
                url,
                {**params, "format": "json", "limit": ZOTERO_PAGE, "start": start},
                pace=ZOTERO_PACE,
                headers=headers,
            )
        try:
            page = json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FetchError("the answer is not JSON", url=response.url) from exc
        if not isinstance(page, list):
            raise FetchError("the answer is not a JSON list", url=response.url)
        out.extend(page)
        total = _int({k.lower(): v for k, v in response.headers.items()}.get("total-results"))
        start += len(page)
        # `Total-Results` says when the listing ends (a server may send shorter pages than
        # asked); without it, a short page is the last.
        if not page or (start >= total if total is not None else len(page) < ZOTERO_PAGE):
            return out
    log.warning("%s: more than %d entries: only the first are read", url, ZOTERO_MAX_ITEMS)
    return out


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _collection_key(collections: Sequence[Any], wanted: str, where: str) -> str:
    """The key of the collection named `wanted` (or whose key it is). Raises LibraryError."""
    named: dict[str, list[str]] = {}
    for c in collections:
        data = c.get("data") if isinstance(c, dict) else None
        if isinstance(data, dict) and isinstance(data.get("key"), str):
            named.setdefault(_text(data.get("name")), []).append(data["key"])
            if data["key"] == wanted:
                return wanted
    keys = named.get(wanted) or [
        k for name, ks in named.items() if name.casefold() == wanted.casefold() for k in ks
    ]
    if len(keys) == 1:
        return keys[0]
    if keys:
        raise LibraryError(
            f"{where}: {len(keys)} collections are named {wanted!r}",
            hint="give the collection's key instead (" + ", ".join(keys) + ")",
        )
    shown = ", ".join(repr(n) for n in sorted(named)[:20]) or "none"
    raise LibraryError(
        f"{where}: no collection named {wanted!r}",
        hint=f"its collections: {shown}",
    )


def _zotero_hint(exc: FetchError, library: ZoteroLibrary) -> str:
    if exc.status == 403:
        if library.api_key_env:
            return f"the key in {library.api_key_env} cannot read this library: give it read access"
        return "the library is private: set api_key_env to a variable holding an API key"
    if exc.status == 404:
        return "check library.zotero.user: the numeric user ID shown at zotero.org/settings/keys"
    return "the profile is scored without it; it is asked again on the next run"


# --------------------------------------------------------------------------- profiles


def with_library(profile: Profile, found: LibraryExamples, what: str) -> Profile:
    """`profile` with the examples of one library added after its own; skipped entries and
    DOIs no source may know are named in one warning each."""
    if found.skipped:
        log.warning(
            "profile %s: %s: %d entr%s without an abstract, arXiv id or DOI left out: %s",
            profile.id,
            what,
            len(found.skipped),
            "y" if len(found.skipped) == 1 else "ies",
            "; ".join(found.skipped),
        )
    return replace(
        profile,
        examples=tuple(dict.fromkeys([*profile.examples, *found.ids])),
        library_papers=tuple({p.id: p for p in [*profile.library_papers, *found.papers]}.values()),
    )


def with_zotero(profiles: Sequence[Profile], http: Http, env: Mapping[str, str]) -> list[Profile]:
    """The profiles, those with a Zotero library given its examples. A library that cannot be
    read is named in a warning: that profile is scored with its other examples this time."""
    out = []
    for profile in profiles:
        if profile.zotero is None:
            out.append(profile)
            continue
        try:
            found = read_zotero(http, profile.zotero, env)
        except LibraryError as exc:
            log.warning(
                "profile %s: %s (hint: %s); scored without it, asked again on the next run",
                profile.id,
                exc,
                exc.hint,
            )
            out.append(profile)
            continue
        out.append(with_library(profile, found, f"Zotero library of user {profile.zotero.user}"))
    return out


# --------------------------------------------------------------------------- what it is about


def distinctive_terms(
    texts: Sequence[str], background: DocFreqs | None = None, k: int = 8
) -> list[str]:
    """The `k` terms (words, word pairs) that say best what `texts` are about: each term's
    TF-IDF summed over the texts (sublinear tf, the product's analyzer, relevance/tfidf.py),
    the IDF from `background` (the stored corpus) when it has papers, else from the texts
    themselves. Only terms a reader can take as a topic (relevance/reasons.py: no numbers,
    pieces of links, boilerplate) in two texts or more (one paper's pet word is not the
    library's topic; with fewer than 3 texts, one is enough). A word is left out once a chosen
    pair holds it ("variational", "autoencoders" under "variational autoencoders")."""
    docs = [Counter(terms_of(prose(t))) for t in texts if t.strip()]
    df: Counter[str] = Counter(term for doc in docs for term in doc)
    least = 2 if len(docs) >= 3 else 1
    candidates = [t for t, n in df.items() if n >= least and readable(t)]
    if background is not None and background.n_docs() > 0:
        # Without the IDF's +1: a word every paper uses ("learning") weighs nothing, however
        # often the library says it.
        n_docs, freqs, floor = background.n_docs(), background.lookup(candidates), 1.0
    else:
        n_docs, freqs, floor = len(docs), dict(df), 0.0
    weight = {
        t: sum(1 + math.log(doc[t]) for doc in docs if t in doc)
        * (idf(freqs.get(t, 0), n_docs) - floor)
        for t in candidates
    }
    chosen: list[str] = []
    for term in sorted(candidates, key=lambda t: (-weight[t], t)):
        words = term.split()
        if len(words) == 1 and any(term in c.split() for c in chosen if " " in c):
            continue
        if len(words) > 1:
            chosen = [c for c in chosen if c not in words]
        chosen.append(term)
        if len(chosen) == k:
            break
    return chosen
