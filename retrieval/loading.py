"""Find article files in the corpus folder and turn each into a clean `Article`.

Loading is split in two so an unchanged corpus re-syncs fast: `scan_corpus`
reads raw bytes and fingerprints them (cheap), and `parse_source` decodes,
extracts and cleans (expensive, HTML especially) only the sources whose
fingerprint changed. Bad files never raise: they come back as `Skipped` with a
reason a person can act on.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.cleaning import clean_article, shorten
from retrieval.errors import CorpusError
from retrieval.models import Article, Skipped

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".jsonl"})
_BINARY_SNIFF_BYTES = 8192
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_MD_HEADING = re.compile(r"^#{1,6}\s+", re.MULTILINE)


@dataclass(frozen=True)
class Source:
    """The raw content of one article before parsing, with its fingerprint."""

    article_id: str
    path: str
    kind: str  # "text", "markdown", "html" or "jsonl"
    raw: bytes
    fingerprint: str
    record: dict = field(default_factory=dict, compare=False)  # a .jsonl line's fields


@dataclass
class Scan:
    """Everything found in the corpus folder: sources to index and files skipped."""

    sources: list[Source] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # Files that exist but could not be read this time; their indexed articles are kept.
    unreadable_paths: set[str] = field(default_factory=set)
    # Links out of the corpus, loops, broken links: anything indexed from them is dropped.
    refused_paths: set[str] = field(default_factory=set)


def fingerprint(data: bytes) -> str:
    """A content hash short enough to store, long enough never to collide here."""
    return hashlib.sha256(data).hexdigest()[:32]


def decode(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), falling back to Windows-1252 / Latin-1."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


@dataclass
class Discovery:
    """The files to read below the corpus folder, and the paths refused on the way."""

    files: list[Path] = field(default_factory=list)
    refused: list[Skipped] = field(default_factory=list)


def discover(corpus_dir: Path) -> Discovery:
    """Every non-hidden file below `corpus_dir`, in a stable order, never leaving the folder.

    Symbolic links are followed only while their target stays inside the corpus folder:
    a link out of it would hand any file of the host (a .env, /etc/passwd) to every
    reader. Walks with a list, not recursion, so any depth of folders is fine.
    """
    root = corpus_dir.resolve()
    found = Discovery()
    pending: list[tuple[Path, tuple[Path, ...]]] = [(corpus_dir, (root,))]
    while pending:
        folder, ancestors = pending.pop()  # ancestors: the resolved folders down to `folder`
        for entry in os.scandir(folder):
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            target, problem = _follow(path, root) if entry.is_symlink() else (path, None)
            if target is not None and target.is_dir():
                resolved = target if entry.is_symlink() else ancestors[-1] / entry.name
                if resolved in ancestors:
                    problem = "symbolic link loop (it points back to a folder that holds it)"
                else:
                    pending.append((path, (*ancestors, resolved)))
                    continue
            elif target is not None and target.is_file():
                found.files.append(path)
                continue
            rel = path.relative_to(corpus_dir).as_posix()
            found.refused.append(Skipped(rel, problem or "not a regular file or folder"))
    found.files.sort()
    return found


def _follow(link: Path, root: Path) -> tuple[Path | None, str | None]:
    """Where a symbolic link leads, or why it must not be followed."""
    try:
        target = link.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return None, "symbolic link loop; not followed"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None, "symbolic link loop; not followed"
        if isinstance(error, FileNotFoundError):
            return None, "broken symbolic link (its target does not exist)"
        return None, f"cannot follow symbolic link: {error.strerror or error}"
    if not target.is_relative_to(root):
        return None, "symbolic link to a place outside the corpus folder; not read"
    return target, None


def scan_corpus(corpus_dir: Path, max_bytes: int) -> Scan:
    """Read and fingerprint every article in the corpus, skipping bad files with a reason."""
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"Corpus folder '{corpus_dir}' does not exist. Create it and put articles in it, "
            "or point --corpus / CORPUS_DIR at your articles."
        )
    scan = Scan()
    found = discover(corpus_dir)
    scan.skipped.extend(found.refused)
    scan.refused_paths.update(skip.path for skip in found.refused)
    for path in found.files:
        rel = path.relative_to(corpus_dir).as_posix()
        suffix = path.suffix.lower()
        if suffix not in TEXT_SUFFIXES:
            scan.skipped.append(Skipped(rel, f"unsupported file type '{suffix or path.name}'"))
            continue
        try:
            if suffix == ".jsonl":
                _scan_jsonl(path, rel, max_bytes, scan)
            else:
                _scan_single(path, rel, suffix, max_bytes, scan)
        except OSError as error:
            scan.unreadable_paths.add(rel)
            scan.skipped.append(Skipped(rel, f"cannot read file: {error.strerror or error}"))
    return scan


def _scan_single(path: Path, rel: str, suffix: str, max_bytes: int, scan: Scan) -> None:
    size = path.stat().st_size
    if size > max_bytes:
        scan.skipped.append(Skipped(rel, _too_large(size, max_bytes)))
        return
    data = path.read_bytes()
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        scan.skipped.append(Skipped(rel, "binary file, not text"))
        return
    if not data.strip():
        scan.skipped.append(Skipped(rel, "empty file"))
        return
    kind = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}.get(
        suffix, "text"
    )
    scan.sources.append(Source(rel, rel, kind, data, fingerprint(data)))


def _scan_jsonl(path: Path, rel: str, max_bytes: int, scan: Scan) -> None:
    seen_ids: set[str] = set()
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            where = f"{rel}:{number}"
            if not line.strip():
                continue
            if len(line) > max_bytes:
                scan.skipped.append(Skipped(where, _too_large(len(line), max_bytes)))
                continue
            try:
                record = json.loads(decode(line))
            except json.JSONDecodeError as error:
                scan.skipped.append(Skipped(where, f"not valid JSON ({error.msg})"))
                continue
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                scan.skipped.append(Skipped(where, 'needs an object with a "text" string'))
                continue
            key = str(record.get("id") or record.get("url") or f"line-{number}")
            article_id = f"{rel}#{key}"
            if article_id in seen_ids:
                scan.skipped.append(Skipped(where, f"duplicate id or url '{key}'"))
                continue
            seen_ids.add(article_id)
            scan.sources.append(Source(article_id, rel, "jsonl", line, fingerprint(line), record))


def _too_large(size: int, limit: int) -> str:
    return (
        f"too large ({size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB, "
        "raise MAX_ARTICLE_BYTES to index it)"
    )


def parse_source(source: Source) -> Article | Skipped:
    """Decode, extract and clean one source into an `Article` (or say why not)."""
    title_hint: str | None = None
    date: str | None = None
    origin = source.path
    if source.kind == "jsonl":
        record = source.record
        body = record["text"]
        title_hint = _str_or_none(record.get("title"))
        date = _str_or_none(record.get("date"))
        origin = _str_or_none(record.get("url")) or source.article_id
    elif source.kind == "html":
        extracted = _extract_html(decode(source.raw))
        if extracted is None:
            return Skipped(source.path, "no article text found in the HTML page")
        body, title_hint, date, url = extracted
        origin = url or source.path
    elif source.kind == "markdown":
        body, title_hint = _strip_markdown(decode(source.raw))
    else:
        body = decode(source.raw)

    clean = clean_article(body, title_hint=shorten(title_hint, 200) if title_hint else None)
    if not clean.text.strip():
        return Skipped(source.path, "no article text left after removing page furniture")
    return Article(
        article_id=source.article_id,
        title=clean.title,
        text=clean.text,
        source=origin,
        path=source.path,
        fingerprint=source.fingerprint,
        date=date or clean.date,
    )


def _str_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _strip_markdown(text: str) -> tuple[str, str | None]:
    """Drop YAML front matter and heading marks; title from front matter or first heading."""
    text = text.replace("\r\n", "\n")
    title: str | None = None
    front = _FRONT_MATTER.match(text)
    if front:
        for line in front.group(1).splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "title" and value.strip():
                title = value.strip().strip("\"'")
        text = text[front.end() :]
    if title is None:
        heading = re.search(r"^#{1,6}\s+(.+)$", text, re.MULTILINE)
        title = heading.group(1).strip() if heading else None
    return _MD_HEADING.sub("", text), title


def _extract_html(html: str) -> tuple[str, str | None, str | None, str | None] | None:
    """Article body, title, date and canonical URL of an HTML page (trafilatura)."""
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    body = trafilatura.extract(
        html, include_comments=False, include_tables=True, favor_precision=True
    )
    if not body or not body.strip():
        return None
    meta = trafilatura.extract_metadata(html)
    if meta is None:
        return body, None, None, None
    return body, meta.title, meta.date, meta.url
