"""Add articles from an attachment, a local file or a web page: `/add` and `python -m bot add`.

Every added article becomes one ordinary Markdown file in the managed folder
(`bot.library.managed.added_folder`), its front matter saying where it came from (title,
`url`, `date`, `added_by`, `added_at`), so the corpus folder stays the one source
of truth. A draft is parsed exactly as a sync will parse the file, so what is
checked (a duplicate, no text at all) is what will be indexed. The same URL or the
same clean text already indexed is a duplicate and nothing is written. Files are
written whole or not at all (a hidden temporary file, then a link that never
replaces an existing file), then the same incremental, atomic sync as `/reload`
runs; if it fails, the files just written are taken out again.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bot.errors import BotError
from bot.library.fetching import FetchLimits, Page, fetch_page
from bot.library.managed import added_folder
from bot.library.syncing import reload_corpus
from bot.settings import Settings
from retrieval.embedding import Embedder
from retrieval.errors import KnownError
from retrieval.loading import (
    TEXT_SUFFIXES,
    Source,
    binary_reason,
    decode,
    extract_html,
    fingerprint,
    open_article,
    parse_source,
    require_corpus_folder,
    split_front_matter,
)
from retrieval.models import Article, Skipped
from retrieval.store import IndexStore
from retrieval.sync import SyncReport

_STEM_MAX_CHARS = 60
_WAITING_MAX_BYTES = 10_000_000  # a managed file larger than this was not written by an add
_FIELD_MAX_CHARS = 2000  # long enough for any real URL, which must stay whole
_PAGE_MIN_WORDS = 20
LEFTOVER_SECONDS = 3600.0  # a killed add's half-written file is swept after an hour
_OWN_FIELDS = ("title", "url", "date")  # first in the front matter; then any others, then ours
ADDABLE = "a .txt, .md, .html or .jsonl file"


class AddRefused(BotError):
    """An article that cannot be added; the message says why and what to do instead."""


@dataclass(frozen=True)
class Draft:
    """One article about to be added: its text, front-matter fields and where it came from.

    `aliases` are other addresses of the same page (the one asked for, the one redirected
    to), so any of them already indexed makes it a duplicate.
    """

    origin: str  # the attachment's name, the file's path or the address, for messages
    body: str
    fields: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provenance:
    """Who added the articles, and when."""

    added_by: str
    added_at: str

    @classmethod
    def now(cls, added_by: str) -> Provenance:
        """Added by `added_by`, now (UTC)."""
        return cls(added_by, datetime.now(UTC).isoformat(timespec="seconds"))


@dataclass(frozen=True)
class Outcome:
    """What became of one draft: added (with its file and passages), a duplicate, or refused."""

    origin: str
    title: str = ""
    path: str = ""
    passages: int = 0
    reason: str = ""


@dataclass
class AddReport:
    """What an add did, for every front end's reply."""

    added: list[Outcome] = field(default_factory=list)
    duplicates: list[Outcome] = field(default_factory=list)
    refused: list[Outcome] = field(default_factory=list)
    sync: SyncReport | None = None

    def lines(self, quote: Callable[[str], str] = str) -> list[str]:
        """One line per article, then the sync's summary; `quote` escapes page-given text."""
        lines = [
            f"Added “{quote(a.title)}” as {a.path}: {a.passages} passages indexed."
            for a in self.added
        ]
        lines += [f"{quote(d.origin)}: already have it: {quote(d.title)}" for d in self.duplicates]
        lines += [f"{quote(r.origin)} was not added: {r.reason}" for r in self.refused]
        if self.sync is not None:
            lines.append(f"Index sync: {self.sync.summary()}")
        return lines or ["Nothing to add."]


def who_runs_this(front_end: str) -> str:
    """The operator's login name, for `added_by` from the console or the command line."""
    try:
        return f"{getpass.getuser()} ({front_end})"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return front_end


def drafts_from_file(name: str, data: bytes, max_bytes: int) -> list[Draft]:
    """The articles in one uploaded or local file (.jsonl: one per line), checked as text."""
    suffix = Path(name).suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise AddRefused(f"it is a '{suffix or 'file without a type'}'; attach {ADDABLE}.")
    require_size(len(data), max_bytes)
    binary = binary_reason(data[:8192])
    if binary:
        raise AddRefused(f"it is a {binary}; attach {ADDABLE} saved as UTF-8 text.")
    text = decode(data)
    if not text.strip():
        raise AddRefused("the file is empty.")
    if suffix == ".jsonl":
        return _drafts_from_jsonl(name, text)
    if suffix in (".html", ".htm"):
        return [_draft_from_html(name, text, ())]
    if suffix in (".md", ".markdown"):
        fields, body = split_front_matter(text)
        return [Draft(name, body, fields)]
    return [Draft(name, text)]


def require_size(size: int, max_bytes: int) -> None:
    """Refuse a file larger than `max_bytes` (MAX_ARTICLE_BYTES), before reading it if we can."""
    if size > max_bytes:
        raise AddRefused(
            f"it is too large ({size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB, "
            "MAX_ARTICLE_BYTES). Split it into smaller files."
        )


def _drafts_from_jsonl(name: str, text: str) -> list[Draft]:
    """One draft per line; any bad line refuses the whole file, naming the line."""
    drafts = []
    for number, line in enumerate(text.split("\n"), start=1):  # not at U+2028 in a string
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            raise AddRefused(
                f"line {number} is not valid JSON ({getattr(error, 'msg', 'nested too deeply')})"
                "; fix it and attach the file again."
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise AddRefused(f'line {number} needs an object with a "text" string.')
        fields = {key: record[key] for key in _OWN_FIELDS if isinstance(record.get(key), str)}
        drafts.append(Draft(f"{name}:{number}", record["text"], fields))
    return drafts


def draft_from_url(url: str, limits: FetchLimits) -> Draft:
    """The article on the web page at `url` (only http and https addresses are fetched)."""
    return draft_from_page(fetch_page(url, limits))


def draft_from_page(page: Page) -> Draft:
    """The article on a fetched page, its canonical URL (else the final address) as `url`."""
    return _draft_from_html(page.requested_url, page.html, (page.requested_url, page.url))


def _draft_from_html(origin: str, html: str, aliases: tuple[str, ...]) -> Draft:
    extracted = extract_html(html)
    words = len(extracted[0].split()) if extracted else 0
    if words < _PAGE_MIN_WORDS:  # what is left of a menu, a list or a login page
        raise AddRefused(
            f"no article text found in the page ({words} words outside its menus); is it a "
            "list or a login page? Give the address of the article itself."
        )
    body, title, date, canonical = extracted
    final_address = aliases[-1] if aliases else None
    url = canonical if canonical and _is_web_address(canonical) else final_address
    fields = {"title": title, "url": url, "date": date}
    return Draft(origin, body, {k: v for k, v in fields.items() if v}, aliases)


def _is_web_address(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https")


def drafts_from_target(target: str, settings: Settings) -> list[Draft]:
    """The console's and the command line's PATH-or-URL: a web page, or a file of the
    operator's own machine (read once here, then only the copy in the corpus is read)."""
    if _is_web_address(target):
        return [draft_from_url(target, FetchLimits.from_settings(settings))]
    path = Path(target).expanduser()
    try:
        if not path.is_file():
            raise AddRefused(f"'{target}' is neither a file nor an http(s) address.")
        require_size(path.stat().st_size, settings.max_article_bytes)  # before reading it
        data = path.read_bytes()
    except OSError as error:
        raise AddRefused(f"cannot read '{target}': {error.strerror or error}.") from None
    return drafts_from_file(path.name, data, settings.max_article_bytes)


def render(draft: Draft, provenance: Provenance) -> str:
    """The file an article is written as: front matter, a blank line, the text."""
    fields = {key: draft.fields[key] for key in _OWN_FIELDS if key in draft.fields}
    fields |= {k: v for k, v in draft.fields.items() if k not in ("added_by", "added_at")}
    fields |= {"added_by": provenance.added_by, "added_at": provenance.added_at}
    lines = [f"{key}: {_one_line(value)}" for key, value in fields.items() if _one_line(value)]
    return "---\n" + "\n".join(lines) + "\n---\n\n" + draft.body.strip() + "\n"


def _one_line(value: object) -> str:
    """A front-matter value on one line, as the loader reads it back."""
    return " ".join(str(value).split())[:_FIELD_MAX_CHARS]


def file_stem(title: str) -> str:
    """A safe file name from a title: ASCII letters, digits and dashes, never a path."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return stem[:_STEM_MAX_CHARS].rstrip("-") or "article"


def managed_folder(corpus_dir: Path) -> Path:
    """The managed folder, created if needed, and refused if it leads out of the corpus."""
    require_corpus_folder(corpus_dir)
    folder = added_folder(corpus_dir)
    if folder.exists() and not folder.is_dir():
        raise AddRefused(f"'{folder}' is a file; move it away so articles can be added there.")
    folder.mkdir(exist_ok=True)
    if not folder.resolve().is_relative_to(corpus_dir.resolve()):
        raise AddRefused(
            f"'{folder}' leads out of the corpus folder; make it a plain folder inside it."
        )
    sweep_leftovers(folder)
    return folder


def sweep_leftovers(folder: Path, older_than_seconds: float = LEFTOVER_SECONDS) -> None:
    """Delete the half-written files of adds killed before they finished (SIGKILL, power
    loss): hidden, so no sync reads them, but they would pile up. A file younger than
    `older_than_seconds` may belong to an add running now in another process."""
    cutoff = time.time() - older_than_seconds
    for leftover in folder.glob(".adding-*.tmp"):
        with contextlib.suppress(OSError):  # gone already, or not ours to delete
            if leftover.lstat().st_mtime < cutoff:
                leftover.unlink()


def write_new_file(folder: Path, stem: str, content: str) -> Path:
    """Write `content` as `stem.md` (or `stem-2.md`, …), whole or not at all, never
    replacing a file that is there already."""
    temporary = folder / f".adding-{uuid.uuid4().hex}.tmp"  # hidden: no sync reads it
    try:
        with open(temporary, "x", encoding="utf-8", newline="\n") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        for number in range(1, 1000):
            target = folder / (f"{stem}.md" if number == 1 else f"{stem}-{number}.md")
            try:
                os.link(temporary, target)  # atomic, and fails rather than overwrite
                return target
            except FileExistsError:
                continue
        raise AddRefused(f"{folder} already holds 999 articles named '{stem}'.")
    except OSError as error:  # a full disk, a read-only folder
        raise AddRefused(
            f"could not write to {folder} ({error.strerror or error}); check the disk's free "
            "space and the folder's permissions."
        ) from error
    finally:
        temporary.unlink(missing_ok=True)


def add_drafts(
    drafts: Sequence[Draft],
    settings: Settings,
    store: IndexStore,
    embedder: Embedder,
    provenance: Provenance,
    *,
    refused: Iterable[Outcome] = (),
    wait: bool = False,
) -> AddReport:
    """Write each new draft into the managed folder, then sync the index once.

    Duplicates (already indexed, or twice in `drafts`) and drafts without text are
    reported and not written. A draft whose file an add killed before its sync left in
    the folder is not written again: the sync indexes that file, and it is reported as
    added (the article is new to the index). A write or a sync that fails takes the new
    files out again and raises, so the folder and the index stay as they were.
    """
    report = AddReport(refused=list(refused))
    if not drafts:
        return report
    folder = managed_folder(settings.corpus_dir)
    # text or address -> (title, file) of files written by an add that was killed before
    # its sync (the sync below indexes them all)
    waiting = waiting_in_folder(folder, settings.corpus_dir, store)
    batch: dict[str, str] = {}  # text or address -> title, for duplicates within this add
    written: list[tuple[Path, str]] = []
    resumed: list[tuple[Path, str]] = []  # (a waiting file, the draft that asked for it)
    try:
        for draft in drafts:
            prepared = _prepare(draft, provenance)
            if isinstance(prepared, Skipped):
                report.refused.append(Outcome(draft.origin, reason=prepared.reason))
                continue
            content, article = prepared
            keys = (article.text, *_addresses(draft))
            known = store.same_article(article.text, keys[1:])
            earlier = next((batch[k] for k in keys if k in batch), None)
            if known is not None or earlier is not None:
                title = known.title if known is not None else earlier
                report.duplicates.append(Outcome(draft.origin, title=title))
                continue
            left = next((waiting[k] for k in keys if k in waiting), None)
            if left is not None:  # written, never indexed: the sync below finishes the add
                resumed.append((left[1], draft.origin))
            else:
                path = write_new_file(folder, file_stem(article.title), content)
                written.append((path, draft.origin))
            batch |= dict.fromkeys(keys, article.title)
        if written or waiting:
            report.sync = reload_corpus(settings, store, embedder, wait=wait)
    except BaseException:
        for path, _ in written:
            path.unlink(missing_ok=True)
        raise
    _record_added(report, written + resumed, settings, store)
    return report


def add_target(
    target: str,
    settings: Settings,
    store: IndexStore,
    embedder: Embedder,
    added_by: str,
    *,
    wait: bool = False,
) -> AddReport:
    """Add a PATH-or-URL (the console's `/add`, `python -m bot add`); a file or page that
    cannot be added is reported in the result, not raised."""
    try:
        drafts = drafts_from_target(target, settings)
    except KnownError as error:
        return AddReport(refused=[Outcome(target, reason=str(error))])
    return add_drafts(drafts, settings, store, embedder, Provenance.now(added_by), wait=wait)


def _prepare(draft: Draft, provenance: Provenance) -> tuple[str, Article] | Skipped:
    """The file's content and the article a sync will make of it (or why it makes none).

    A draft without a title gets the one the loader finds, so the front matter names it.
    """
    if "title" not in draft.fields:
        found = _parse(render(draft, provenance))
        if isinstance(found, Skipped):
            return found
        draft = replace(draft, fields={"title": found.title, **draft.fields})
    content = render(draft, provenance)
    article = _parse(content)
    return article if isinstance(article, Skipped) else (content, article)


def waiting_in_folder(
    folder: Path, corpus_dir: Path, store: IndexStore
) -> dict[str, tuple[str, Path]]:
    """The text and addresses of managed files not indexed yet, each mapped to the
    file's title and path.

    An add killed between writing its file and the end of its sync leaves such a
    file; without this, adding the same page again would write it a second time.
    Only files the index lacks are read, so this costs nothing in the usual case.
    """
    waiting: dict[str, tuple[str, Path]] = {}
    for path in sorted(folder.glob("*.md")):
        relative = path.relative_to(corpus_dir).as_posix()
        if path.name.startswith(".") or store.article(relative) is not None:
            continue
        try:
            with open_article(path, corpus_dir.resolve()) as handle:
                raw = handle.read(_WAITING_MAX_BYTES + 1)
        except Exception:  # a link, an unreadable file: the sync reports why
            continue
        if len(raw) > _WAITING_MAX_BYTES:
            continue
        article = parse_source(Source(relative, relative, "markdown", raw, fingerprint(raw)))
        if isinstance(article, Skipped):
            continue
        fields, _ = split_front_matter(decode(raw))
        addresses = _addresses(Draft(relative, "", {"url": fields.get("url", "")}))
        waiting |= dict.fromkeys((article.text, *addresses), (article.title, path))
    return waiting


def _parse(content: str) -> Article | Skipped:
    raw = content.encode("utf-8")
    where = "added/new.md"
    parsed = parse_source(Source(where, where, "markdown", raw, fingerprint(raw)))
    if isinstance(parsed, Skipped):
        return Skipped(parsed.path, "no article text in it (only page furniture, or empty)")
    return parsed


def indexed_under(store: IndexStore, url: str) -> Article | None:
    """The article already indexed under `url` (any spelling of it), so a feed entry's
    page need not be fetched again."""
    return store.same_article("", _addresses(Draft(url, "", {"url": url})))  # no text is ""


def _addresses(draft: Draft) -> list[str]:
    """Every spelling of the draft's addresses a duplicate may be indexed under."""
    found = []
    for url in (draft.fields.get("url", ""), *draft.aliases):
        if _is_web_address(url):
            bare = url.split("#")[0]
            found += [bare, bare.rstrip("/"), bare.rstrip("/") + "/"]
    return list(dict.fromkeys(found))


def _record_added(
    report: AddReport, written: list[tuple[Path, str]], settings: Settings, store: IndexStore
) -> None:
    """Name each new file's article and passages; one the sync skipped after all is taken
    out again and reported with the sync's reason."""
    skipped = {s.path: s.reason for s in report.sync.skipped} if report.sync else {}
    for path, origin in written:
        relative = path.relative_to(settings.corpus_dir).as_posix()
        article = store.article(relative)
        if article is None:
            path.unlink(missing_ok=True)
            reason = skipped.get(relative, "the sync did not index it")
            report.refused.append(Outcome(origin, reason=reason))
            continue
        passages = len(store.chunks_of(relative))
        report.added.append(Outcome(origin, article.title, relative, passages))
