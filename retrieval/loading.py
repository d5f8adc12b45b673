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
import stat
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

from retrieval.cleaning import clean_article, shorten
from retrieval.dates import find_date
from retrieval.errors import CorpusError
from retrieval.models import Article, Skipped

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".jsonl"})
_BINARY_SNIFF_BYTES = 8192
# Text has next to no control characters; random bytes give about 9 % even as Windows-1252.
_BINARY_MAX_UNPRINTABLE = 0.05
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_MD_HEADING = re.compile(r"^#{1,6}\s+", re.MULTILINE)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_REASON_MAX_CHARS = 200
_OUTSIDE = "symbolic link to a place outside the corpus folder; not read"
T = TypeVar("T")


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

    def extend(self, other: Scan) -> None:
        """Add what another scan (one file's) found."""
        self.sources.extend(other.sources)
        self.skipped.extend(other.skipped)
        self.unreadable_paths |= other.unreadable_paths
        self.refused_paths |= other.refused_paths


def guarded(path: str, step: Callable[..., T], *args: object) -> T | Skipped:
    """Run one file's step; any failure skips that file with a reason and the run goes on.

    Bad input must never stop a run (or `/reload`), whatever it trips over.
    """
    try:
        return step(*args)
    except Exception as error:  # any error at all: one bad file must never stop the others
        return Skipped(path, failure_reason(error))


def failure_reason(error: BaseException) -> str:
    """A one-line reason for an unexpected failure on one file."""
    if isinstance(error, RecursionError):
        return "nested too deeply to read (flatten its structure to index it)"
    if isinstance(error, MemoryError):
        return "too large to process in memory (split it or lower MAX_ARTICLE_BYTES)"
    detail = " ".join(f"{type(error).__name__}: {error}".split())
    if len(detail) > _REASON_MAX_CHARS:
        detail = detail[: _REASON_MAX_CHARS - 1] + "…"
    if isinstance(error, UnicodeError):
        return f"holds text that is not valid Unicode ({detail}); re-save it as UTF-8"
    return f"could not be processed ({detail}); please report this file as a bug"


def fingerprint(data: bytes) -> str:
    """A content hash short enough to store, long enough never to collide here."""
    return hashlib.sha256(data).hexdigest()[:32]


def decode(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), falling back to Windows-1252 / Latin-1.

    A file that is mostly UTF-8 stays UTF-8, its few bad bytes becoming U+FFFD: one
    stray byte must not turn every "’" of the file into "â€™".
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):
        return data.decode("utf-8-sig", errors="replace")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _mostly_utf8(data: bytes) -> bool:
    """Whether valid multi-byte UTF-8 characters are at least as many as the bad bytes.

    Windows-1252 text (é as one byte before ASCII) almost never forms a valid sequence.
    """
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return non_ascii - bad >= max(bad, 1)


def unprintable_share(text: str) -> float:
    """The share of characters that text never holds: control characters and U+FFFD."""
    if not text:
        return 0.0
    unprintable = sum(
        1
        for ch in text
        if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS)
    )
    return unprintable / len(text)


def binary_reason(sample: bytes) -> str | None:
    """Why the start of a file looks binary (a NUL, or many unprintable bytes), or None."""
    if b"\x00" in sample:
        return "binary file, not text (it has NUL bytes)"
    share = unprintable_share(decode(sample))
    if share > _BINARY_MAX_UNPRINTABLE:
        return f"binary file, not text ({share:.0%} of its first 8 KB is not printable)"
    return None


def require_corpus_folder(corpus_dir: Path) -> None:
    """Fail with a how-to unless `corpus_dir` is a folder (a file gets its folder named)."""
    if corpus_dir.is_file():
        raise CorpusError(
            f"'{corpus_dir}' is a file, not a folder. Point --corpus (or CORPUS_DIR) at the "
            f"folder that holds your articles, e.g. --corpus {corpus_dir.parent}"
        )
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"Corpus folder '{corpus_dir}' does not exist. Create it and put articles in it, "
            "or point --corpus / CORPUS_DIR at your articles."
        )


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
        return None, _OUTSIDE
    return target, None


def scan_corpus(corpus_dir: Path, max_bytes: int) -> Scan:
    """Read and fingerprint every article in the corpus, skipping bad files with a reason."""
    require_corpus_folder(corpus_dir)
    scan = Scan()
    found = discover(corpus_dir)
    scan.skipped.extend(found.refused)
    scan.refused_paths.update(skip.path for skip in found.refused)
    for path in found.files:
        _scan_path(path, corpus_dir, max_bytes, scan)
    return scan


class _Refused(Exception):
    """A file that must not be read (it leads out of the corpus folder): the reason."""


def open_article(path: Path, root: Path) -> BinaryIO:
    """Open the article file at `path` for reading, never reaching outside `root`.

    The walk checked every link, but a file (or a folder on its path) can be swapped for
    a link before it is read. So the path is resolved and checked again, opened without
    following a link in its last part (O_NOFOLLOW), and the opened file itself checked:
    a regular file whose real path, as the kernel names it, lies inside `root`.
    O_NONBLOCK keeps a FIFO swapped in from blocking the open; regular files ignore it.
    """
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        raise _Refused("symbolic link loop; not followed") from None
    if not target.is_relative_to(root):
        raise _Refused(_OUTSIDE)
    try:
        handle = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:
            message = "became a symbolic link while the corpus was read; not followed"
            raise _Refused(message) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise _Refused("not a regular file")
        if not _opened_path(handle, target).is_relative_to(root):
            raise _Refused(_OUTSIDE)
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def _opened_path(handle: int, opened_as: Path) -> Path:
    """The real path of an open file (Linux names it in /proc); elsewhere, the path opened."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{handle}"))
    except OSError:
        return opened_as


def _scan_path(path: Path, corpus_dir: Path, max_bytes: int, scan: Scan) -> None:
    """Add one file's sources, or why it is skipped, to `scan`; no file can stop the scan."""
    rel = path.relative_to(corpus_dir).as_posix()
    if not _is_valid_unicode(rel):
        scan.skipped.append(
            Skipped(
                printable_name(rel),
                "file name is not valid UTF-8; rename the file (for example with "
                "`convmv -f latin1 -t utf8`) to index it",
            )
        )
        return
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        scan.skipped.append(Skipped(rel, f"unsupported file type '{suffix or path.name}'"))
        return
    found = guarded(rel, _read_file, path, corpus_dir.resolve(), rel, suffix, max_bytes)
    if isinstance(found, Skipped):
        scan.skipped.append(found)
    else:
        scan.extend(found)


def _read_file(path: Path, root: Path, rel: str, suffix: str, max_bytes: int) -> Scan:
    """One file's sources and skips, collected apart so a failure midway adds none of them."""
    found = Scan()
    try:
        with open_article(path, root) as handle:
            if suffix == ".jsonl":
                _scan_jsonl(handle, rel, max_bytes, found)
            else:
                _scan_single(handle, rel, suffix, max_bytes, found)
    except _Refused as refusal:  # as the walk refuses links out: anything indexed goes
        found = Scan(refused_paths={rel})
        found.skipped.append(Skipped(rel, str(refusal)))
    except OSError as error:
        found = Scan(unreadable_paths={rel})
        found.skipped.append(Skipped(rel, f"cannot read file: {error.strerror or error}"))
    return found


def _is_valid_unicode(text: str) -> bool:
    """False for text with lone surrogates (undecodable file-name bytes): no store takes them."""
    return _LONE_SURROGATE.search(text) is None


def printable_name(name: str) -> str:
    """A file name with its undecodable bytes shown as \\xNN, safe to print and to store."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates (from JSON escapes like \\ud800) replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _scan_single(handle: BinaryIO, rel: str, suffix: str, max_bytes: int, scan: Scan) -> None:
    size = os.fstat(handle.fileno()).st_size
    # Read as much as the file holds, not `max_bytes + 1`: a buffer that large comes from
    # its own memory mapping, shrunk but kept while the bytes live, and a process may hold
    # only about 65,000 mappings (vm.max_map_count), so a corpus of more small files
    # than that crashed the scan. Past `size` it reads on only if the file grew since.
    data = handle.read(size + 1) if size <= max_bytes else b""
    if size < len(data) <= max_bytes:
        data += handle.read(max_bytes + 1 - len(data))
    if size > max_bytes or len(data) > max_bytes:  # it may have grown since the stat
        scan.skipped.append(Skipped(rel, _too_large(max(size, len(data)), max_bytes)))
        return
    binary = binary_reason(data[:_BINARY_SNIFF_BYTES])
    if binary:
        scan.skipped.append(Skipped(rel, binary))
        return
    if not data.strip():
        scan.skipped.append(Skipped(rel, "empty file"))
        return
    kind = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}.get(
        suffix, "text"
    )
    scan.sources.append(Source(rel, rel, kind, data, fingerprint(data)))


def _scan_jsonl(handle: BinaryIO, rel: str, max_bytes: int, scan: Scan) -> None:
    seen_ids: set[str] = set()
    for number, (line, size) in enumerate(bounded_lines(handle, max_bytes), start=1):
        where = f"{rel}:{number}"
        if size > max_bytes:
            scan.skipped.append(Skipped(where, _too_large(size, max_bytes)))
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(decode(line))
        except json.JSONDecodeError as error:
            scan.skipped.append(Skipped(where, f"not valid JSON ({error.msg})"))
            continue
        except RecursionError:
            scan.skipped.append(Skipped(where, "JSON nested too deeply to read; flatten it"))
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            scan.skipped.append(Skipped(where, 'needs an object with a "text" string'))
            continue
        key = valid_unicode(str(record.get("id") or record.get("url") or f"line-{number}"))
        article_id = f"{rel}#{key}"
        if article_id in seen_ids:
            scan.skipped.append(Skipped(where, f"duplicate id or url '{key}'"))
            continue
        seen_ids.add(article_id)
        scan.sources.append(Source(article_id, rel, "jsonl", line, fingerprint(line), record))


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[bytes, int]]:
    """Each line of `handle` with its length in bytes, reading at most `limit + 1` at once.

    A line longer than `limit` comes back empty, its length counted as it is read past:
    a one-line 400 MB file must not be read whole (twice over, as bytes and as text)
    before its size is known to be too large.
    """
    while line := handle.readline(limit + 1):
        if len(line) <= limit:
            yield line, len(line)
            continue
        size = len(line)
        while not line.endswith(b"\n") and (line := handle.readline(limit + 1)):
            size += len(line)
        yield b"", size


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
        date = iso_date(_str_or_none(record.get("date")) or "")
        origin = _str_or_none(record.get("url")) or source.article_id
    elif source.kind == "html":
        extracted = extract_html(decode(source.raw))
        if extracted is None:
            return Skipped(source.path, "no article text found in the HTML page")
        body, title_hint, date, url = extracted
        origin = url or source.path
    elif source.kind == "markdown":
        body, front = _strip_markdown(decode(source.raw))
        title_hint = front.get("title")
        date = iso_date(front.get("date", ""))
        origin = front.get("url") or source.path
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
    return valid_unicode(value.strip()) or None if isinstance(value, str) else None


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """A Markdown text's front-matter fields (`title`, `url`, `date`, ...: simple
    `key: value` lines, keys lower-cased, quotes and empty values dropped; {} without
    front matter) and the text after the front matter."""
    text = text.replace("\r\n", "\n")
    found = _FRONT_MATTER.match(text)
    fields: dict[str, str] = {}
    for line in found.group(1).splitlines() if found else ():
        key, _, value = line.partition(":")
        value = valid_unicode(value.strip().strip("\"'").strip())
        if value and key.strip():
            fields.setdefault(key.strip().lower(), value)
    return fields, text[found.end() :] if found else text


def _strip_markdown(text: str) -> tuple[str, dict[str, str]]:
    """Drop front matter and heading marks; the body and the front matter's fields, with
    the title from the first heading when the front matter has none."""
    fields, text = split_front_matter(text)
    if "title" not in fields:
        heading = re.search(r"^#{1,6}\s+(.+)$", text, re.MULTILINE)
        if heading:
            fields["title"] = heading.group(1).strip()
    return _MD_HEADING.sub("", text), fields


def iso_date(text: str) -> str | None:
    """A front-matter date (`2024-03-05`, `2024-03-05T10:00:00Z`, `5 March 2024`) as
    YYYY-MM-DD, or None when it holds no date."""
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return find_date(text)


def extract_html(html: str) -> tuple[str, str | None, str | None, str | None] | None:
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
