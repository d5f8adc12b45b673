"""Property-based tests: no input file or text crashes loading, cleaning or chunking."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.chunking import chunk_article
from retrieval.cleaning import clean_article, normalize
from retrieval.loading import parse_source, scan_corpus
from retrieval.models import Article, Skipped

SUFFIXES = [".txt", ".md", ".html", ".htm", ".jsonl", ".bin"]
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


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.one_of(st.binary(max_size=3000), junk_text.map(lambda t: t.encode("utf-8"))),
    suffix=st.sampled_from(SUFFIXES),
)
def test_any_file_loads_or_is_skipped_with_exact_offsets(
    tmp_path: Path, payload: bytes, suffix: str
) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir(exist_ok=True)
    for old in corpus.iterdir():
        old.unlink()
    (corpus / f"f{suffix}").write_bytes(payload)
    scan = scan_corpus(corpus, max_bytes=100_000)
    assert all(skip.reason for skip in scan.skipped)
    for source in scan.sources:
        result = parse_source(source)
        if isinstance(result, Skipped):
            assert result.reason
            continue
        assert isinstance(result, Article) and result.text.strip()
        for chunk in chunk_article(result, 40, 10):
            assert result.text[chunk.start : chunk.end] == chunk.text


@settings(max_examples=300, deadline=None)
@given(text=junk_text)
def test_cleaning_only_removes_whole_lines(text: str) -> None:
    clean = clean_article(text)
    kept_lines = {line for line in normalize(text).split("\n")}
    for line in clean.text.split("\n"):
        assert line == "" or line in kept_lines or any(line in k for k in kept_lines)
    assert clean.title


def test_a_huge_single_line_is_chunked_without_crashing() -> None:
    text = ("word " * 200_000).strip()
    article = Article("a", "A", text, "a", "a", "0" * 32)
    chunks = chunk_article(article, 120, 30)
    assert len(chunks) >= 200_000 // 120
    assert all(text[c.start : c.end] == c.text for c in chunks)
