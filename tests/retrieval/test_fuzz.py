"""Property-based fuzzing: no input crashes loading, cleaning, chunking or date parsing.

Each test calls the steps themselves, not the per-file guard around them, so a crash
here is a bug the guard would only have hidden. Every input must also keep exact
offsets and take at most `MAX_SECONDS` of CPU. `make test` runs Hypothesis's default
100 examples per test; `make fuzz` runs the `fuzz` profile (see tests/conftest.py),
at least 10,000 cases, and prints the counts the README quotes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.chunking import chunk_article, split_sentences
from retrieval.cleaning import clean_article, normalize
from retrieval.dates import find_date
from retrieval.loading import parse_source, scan_corpus
from retrieval.models import Article, Skipped
from tests.retrieval.conftest import FuzzStats

MAX_SECONDS = 1.0
GUARD_FALLBACK = "please report this file as a bug"  # the guard's reason for an unexpected error
SUFFIXES = [".txt", ".md", ".html", ".htm", ".jsonl", ".TXT", ".bin", ""]
fuzz = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- generators --------------------------------------------------------------------------

# Letters whose case mapping is unusual: the regex's IGNORECASE and str.lower disagree on them.
ODD_CASE = {"s": "ſ", "i": "ıİ", "k": "\u212a", "a": "\u212b", "ss": "ß", "fi": "ﬁ"}
MONTH_NAMES = (
    "january february march april may june july august september sept sep october "
    "november december aug apr"
).split()
odd_char = st.sampled_from("ſıİ\u212a\u212bßﬁǅǈΣσςΐẞ")


@st.composite
def odd_case_word(draw: st.DrawFn, word: str) -> str:
    """`word` with each letter kept, upper-cased, or swapped for an odd-case look-alike."""
    letters = []
    for letter in word:
        choices = [letter, letter.upper(), *ODD_CASE.get(letter, "")]
        letters.append(draw(st.sampled_from(choices)))
    return "".join(letters)


@st.composite
def odd_case_date(draw: st.DrawFn) -> str:
    """A date header whose month name case-folds oddly: "1 ſep 2024", "Aprıl 3, 2024"."""
    month = draw(st.sampled_from(MONTH_NAMES).flatmap(odd_case_word))
    day, year = draw(st.integers(0, 40)), draw(st.integers(1800, 2300))
    shape = draw(
        st.sampled_from(["{d} {m} {y}", "{m} {d}, {y}", "{m}. {d}th {y}", "{d} {m}., {y}"])
    )
    return shape.format(d=day, m=month, y=year)


odd_case_text = st.lists(
    st.one_of(odd_case_date(), st.text(odd_char, max_size=5), st.sampled_from([" ", "\n", "."])),
    max_size=30,
).map("".join)


@st.composite
def punctuation_runs(draw: st.DrawFn) -> str:
    """Words mixed with long runs of sentence marks, quotes, spaces and newlines."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        mark = draw(st.sampled_from(list(".!?…\"”’')] \n\t") + ["! ", ". ", "?\n", ".'"]))
        parts.append(mark * draw(st.integers(1, 40_000)))
        parts.append(draw(st.sampled_from(["", "Word", " Next one.", "x", "1", "Loading", "25"])))
    return "".join(parts)


@st.composite
def deep_json_line(draw: st.DrawFn) -> str:
    """A .jsonl line nested up to 3,000 deep, as lists, objects or a mix."""
    depth = draw(st.integers(1, 3000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"text":[', "]}")]))
    inner = draw(st.sampled_from(['"x"', "1", "[]", '{"text": "hello there"}']))
    return opener * depth + inner + closer * depth


@st.composite
def deep_html(draw: st.DrawFn) -> str:
    """An HTML page with elements nested up to 3,000 deep around an article paragraph."""
    depth = draw(st.integers(1, 3000))
    tag = draw(st.sampled_from(["div", "p", "span", "b", "article"]))
    return (
        "<html><body>" + f"<{tag}>" * depth + "<p>The council approved the budget today. "
        "Residents had waited ten years for it.</p>" + f"</{tag}>" * depth + "</body></html>"
    )


file_name = st.binary(min_size=1, max_size=120).filter(
    lambda name: b"/" not in name and b"\0" not in name and name not in (b".", b"..")
)
junk_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=2000
) | st.sampled_from(
    [
        "<html><body><nav>a</nav><p>x</p></body></html>",
        "<<<>>>&&&;;<script>alert(1)</script>",
        "Hot this week\n\nRelated Articles",
        "25.3 C\nSingapore\n" * 20,
        "a" * 50_000,
        '{"text": 5}\n{"text": "ok fine sentence here."}\n[1,2]\n',
    ]
)
file_content = st.one_of(
    st.binary(max_size=3000),
    junk_text.map(str.encode),
    odd_case_text.map(str.encode),
    punctuation_runs().map(str.encode),
    deep_html().map(str.encode),
    st.lists(deep_json_line(), min_size=1, max_size=3).map(lambda ls: "\n".join(ls).encode()),
    st.binary(max_size=300).map(lambda b: "Trump’s café ".encode() * 20 + b),  # mostly UTF-8
)

# --- checks ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the corpora written per example (one session fixture: Hypothesis-safe)."""
    import trafilatura

    trafilatura.extract("<html><body><p>Warm the HTML extractor up once.</p></body></html>")
    return tmp_path_factory.mktemp("fuzz")


def timed(stats: FuzzStats, label: str, run: Callable[[], None]) -> None:
    """Run one case, count it, and fail it if it took more than MAX_SECONDS of CPU."""
    started = time.process_time()
    try:
        run()
    except AssertionError:
        stats.violations += 1
        raise
    except Exception:
        stats.crashes += 1
        raise
    finally:
        stats.record(label, time.process_time() - started)
    assert stats.last_seconds <= MAX_SECONDS, f"{label} took {stats.last_seconds:.2f} s"


def assert_chunks_exact(article: Article) -> None:
    """Every chunk is the stored text at its offsets, trimmed and non-empty."""
    for chunk in chunk_article(article, 40, 10):
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()


def load_corpus_file(folder: Path, name: bytes, payload: bytes) -> None:
    """Scan a corpus of one file, parse and chunk what it yields; every skip has a reason."""
    with open(os.path.join(os.fsencode(folder), name), "wb") as file:
        file.write(payload)
    scan = scan_corpus(folder, max_bytes=100_000)
    for skip in scan.skipped:
        assert skip.reason and GUARD_FALLBACK not in skip.reason, skip
        skip.path.encode("utf-8")  # printable, storable
    for source in scan.sources:
        result = parse_source(source)
        if isinstance(result, Skipped):
            assert result.reason
            continue
        for value in (result.article_id, result.title, result.text, result.source):
            value.encode("utf-8")  # the store will take it
        assert result.text.strip()
        assert_chunks_exact(result)


@fuzz
@given(payload=file_content, suffix=st.sampled_from(SUFFIXES))
def test_any_file_loads_or_is_skipped_with_exact_offsets(
    scratch: Path, fuzz_stats: FuzzStats, payload: bytes, suffix: str
) -> None:
    folder = Path(tempfile.mkdtemp(dir=scratch))
    try:
        name = f"f{suffix}".encode()
        timed(
            fuzz_stats,
            f"file{suffix} {payload[:40]!r}",
            lambda: load_corpus_file(folder, name, payload),
        )
    finally:
        shutil.rmtree(folder)


@fuzz
@given(name=file_name, suffix=st.sampled_from([b".txt", b".jsonl", b".md", b""]))
def test_any_file_name_loads_or_is_skipped_readably(
    scratch: Path, fuzz_stats: FuzzStats, name: bytes, suffix: bytes
) -> None:
    folder = Path(tempfile.mkdtemp(dir=scratch))
    payload = b'{"text": "The council met."}\n' if suffix == b".jsonl" else b"The council met."
    try:
        timed(
            fuzz_stats, f"name {name!r}", lambda: load_corpus_file(folder, name + suffix, payload)
        )
    finally:
        shutil.rmtree(folder)


@fuzz
@given(text=st.one_of(odd_case_text, junk_text, punctuation_runs()))
def test_dates_are_valid_or_none(fuzz_stats: FuzzStats, text: str) -> None:
    def check() -> None:
        date = find_date(text)
        if date is not None:
            year, month, day = map(int, date.split("-"))
            assert 1900 <= year <= 2200 and 1 <= month <= 12 and 1 <= day <= 31

    timed(fuzz_stats, f"date {text[:40]!r}", check)


@fuzz
@given(text=st.one_of(junk_text, odd_case_text, punctuation_runs()))
def test_cleaning_only_removes_whole_lines(fuzz_stats: FuzzStats, text: str) -> None:
    def check() -> None:
        clean = clean_article(text)
        kept_lines = set(normalize(text).split("\n"))
        for line in clean.text.split("\n"):
            assert line == "" or line in kept_lines or any(line in k for k in kept_lines)
        assert clean.title

    timed(fuzz_stats, f"clean {text[:40]!r}", check)


@fuzz
@given(text=st.one_of(punctuation_runs(), junk_text, odd_case_text))
def test_sentences_and_chunks_keep_exact_offsets(fuzz_stats: FuzzStats, text: str) -> None:
    def check() -> None:
        spans = split_sentences(text)
        previous_end = 0
        for start, end in spans:
            assert previous_end <= start < end <= len(text)
            assert text[start:end] == text[start:end].strip()
            previous_end = end
        assert_chunks_exact(Article("a", "A", text, "a", "a", "0" * 32))

    timed(fuzz_stats, f"split {text[:40]!r}", check)


def test_a_huge_single_line_is_chunked_without_crashing() -> None:
    text = ("word " * 200_000).strip()
    article = Article("a", "A", text, "a", "a", "0" * 32)
    chunks = chunk_article(article, 120, 30)
    assert len(chunks) >= 200_000 // 120
    assert all(text[c.start : c.end] == c.text for c in chunks)
