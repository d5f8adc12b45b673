from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest

from retrieval.errors import CorpusError
from retrieval.loading import decode, guarded, parse_source, scan_corpus
from retrieval.models import Article, Skipped

BODY = "The council approved the new budget on Tuesday after a long debate about schools."


def _articles(corpus: Path, max_bytes: int = 1_000_000) -> tuple[dict[str, Article], list[Skipped]]:
    scan = scan_corpus(corpus, max_bytes)
    articles: dict[str, Article] = {}
    skipped = list(scan.skipped)
    for source in scan.sources:
        result = parse_source(source)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            articles[result.article_id] = result
    return articles, skipped


def test_text_file_headline_is_title_and_id_is_relative_path(tmp_path: Path) -> None:
    (tmp_path / "news" / "local").mkdir(parents=True)
    (tmp_path / "news" / "local" / "budget.txt").write_text(f"Council passes budget\n\n{BODY}\n")
    articles, skipped = _articles(tmp_path)
    article = articles["news/local/budget.txt"]
    assert article.title == "Council passes budget"
    assert article.source == "news/local/budget.txt"
    assert BODY in article.text
    assert skipped == []


def test_markdown_front_matter_and_heading(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(f"---\ntitle: Budget day\n---\n# Council news\n\n{BODY}\n")
    (tmp_path / "b.md").write_text(f"## Second heading title\n\n{BODY}\n")
    articles, _ = _articles(tmp_path)
    assert articles["a.md"].title == "Budget day"
    assert "---" not in articles["a.md"].text and "#" not in articles["a.md"].text
    assert articles["b.md"].title == "Second heading title"
    assert articles["b.md"].source == "b.md" and articles["b.md"].date is None


def test_markdown_front_matter_url_and_date_are_the_source_and_date(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "---\ntitle: Budget day\nurl: https://news.example/budget?day=2\ndate: '2024-05-01'\n"
        f"added_by: mod\n---\n{BODY}\n"
    )
    articles, _ = _articles(tmp_path)
    article = articles["a.md"]
    assert article.source == "https://news.example/budget?day=2"
    assert article.date == "2024-05-01" and article.title == "Budget day"
    assert "added_by" not in article.text


@pytest.mark.parametrize(
    ("date", "expected"),
    [("2024-03-05", "2024-03-05"), ("'2024-03-05T22:10:00Z'", "2024-03-05"),
     ("5 March 2024", "2024-03-05"), ("sometime in spring", None)],
)  # fmt: skip
def test_markdown_front_matter_gives_source_url_and_date(
    tmp_path: Path, date: str, expected: str | None
) -> None:
    (tmp_path / "guide.md").write_text(
        f"---\nTitle: Laser cutter\nURL: https://wiki.example.org/laser\ndate: {date}\n"
        f"added_by: mod\n---\n{BODY}\n"
    )
    (tmp_path / "plain.md").write_text(f"# Plain\n\n{BODY}\n")
    articles, _ = _articles(tmp_path)
    guide = articles["guide.md"]
    assert (guide.title, guide.source, guide.date) == (
        "Laser cutter",
        "https://wiki.example.org/laser",
        expected,
    )
    assert "added_by" not in guide.text and "wiki.example.org" not in guide.text
    assert (articles["plain.md"].source, articles["plain.md"].date) == ("plain.md", None)


def test_html_body_is_extracted_without_navigation(tmp_path: Path) -> None:
    paragraphs = "".join(f"<p>{BODY} Paragraph {i} adds detail.</p>" for i in range(4))
    html = f"""<html><head><title>Budget approved | Town Times</title>
    <link rel="canonical" href="https://example.org/budget"></head><body>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/sport">Sport</a></li></ul></nav>
    <article><h1>Budget approved</h1>{paragraphs}</article>
    <footer>Copyright Town Times. All rights reserved.</footer></body></html>"""
    (tmp_path / "page.html").write_text(html)
    articles, skipped = _articles(tmp_path)
    article = articles["page.html"]
    assert skipped == []
    assert "Paragraph 3 adds detail." in article.text
    assert "Sport" not in article.text and "Copyright" not in article.text
    assert "Budget approved" in article.title
    assert article.source == "https://example.org/budget"


def test_jsonl_one_article_per_line_with_bad_lines_reported(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {"text": BODY, "title": "Budget", "url": "https://x.org/1", "date": "2024-05-01"}
        ),
        "{not json",
        json.dumps({"title": "no text"}),
        json.dumps({"text": "Second article body, long enough to be a real sentence here."}),
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n")
    articles, skipped = _articles(tmp_path)
    first = articles["feed.jsonl#https://x.org/1"]
    assert (first.title, first.source, first.date) == ("Budget", "https://x.org/1", "2024-05-01")
    assert "feed.jsonl#line-4" in articles
    assert {s.path for s in skipped} == {"feed.jsonl:2", "feed.jsonl:3"}
    assert all(s.reason for s in skipped)


def test_legacy_encoding_falls_back_to_cp1252(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_bytes(
        "Prices rise\n\nA pint now costs £3 – café owners say.".encode("cp1252")
    )
    articles, skipped = _articles(tmp_path)
    assert "£3 – café" in articles["old.txt"].text and skipped == []


def test_decode_prefers_utf8_and_strips_bom() -> None:
    assert decode("\ufeffcafé".encode()) == "café"
    assert decode(bytes([0x81, 0x8D])) == "\x81\x8d"  # undefined in cp1252: latin-1 last resort


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("blank.txt", b"   \n\n", "empty file"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        ("huge.txt", b"word " * 400, "too large"),
        ("photo.jpg", b"\xff\xd8", "unsupported file type"),
        ("stars.txt", b"*\n\n13:16\n", "no article text"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    (tmp_path / name).write_bytes(content)
    (tmp_path / "good.txt").write_text(BODY)
    articles, skipped = _articles(tmp_path, max_bytes=1000)
    assert list(articles) == ["good.txt"]
    assert [s.path for s in skipped] == [name]
    assert reason in skipped[0].reason


def test_hidden_files_and_folders_are_ignored(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text(BODY)
    (tmp_path / ".draft.txt").write_text(BODY)
    articles, skipped = _articles(tmp_path)
    assert articles == {} and skipped == []


def test_missing_corpus_folder_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="--corpus"):
        scan_corpus(tmp_path / "nope", 1000)


def test_the_non_utf8_bbc_article_loads(tmp_path: Path) -> None:
    bbc = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "bbc" / "sport" / "199.txt"
    if not bbc.exists():
        pytest.skip("shared BBC corpus not present")
    (tmp_path / "199.txt").write_bytes(bbc.read_bytes())
    articles, skipped = _articles(tmp_path)
    assert "fee for Mutu, a £15.8m" in articles["199.txt"].text and skipped == []


def test_a_jsonl_line_nested_too_deeply_is_skipped_with_a_reason(tmp_path: Path) -> None:
    deep = "[" * 1000 + "]" * 1000  # 2 KB that json.loads cannot read without RecursionError
    (tmp_path / "feed.jsonl").write_text(deep + "\n" + json.dumps({"text": BODY}) + "\n")
    articles, skipped = _articles(tmp_path)
    assert list(articles) == ["feed.jsonl#line-2"]
    assert [s.path for s in skipped] == ["feed.jsonl:1"]
    assert "nested too deeply" in skipped[0].reason


def test_a_file_name_that_is_not_utf8_is_skipped_and_shown_readably(tmp_path: Path) -> None:
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt"), "wb") as file:
        file.write(BODY.encode())
    (tmp_path / "good.txt").write_text(BODY)
    articles, skipped = _articles(tmp_path)
    assert list(articles) == ["good.txt"]
    assert [s.path for s in skipped] == ["caf\\xe9.txt"]  # printable, unlike the raw name
    assert "not valid UTF-8" in skipped[0].reason and "rename" in skipped[0].reason


def test_jsonl_fields_with_lone_surrogates_become_storable_text(tmp_path: Path) -> None:
    # JSON escapes for lone surrogates: json.loads turns them into str no store accepts
    escaped = '{"id": "a\\ud800", "title": "T\\udfff", "url": "u\\udc80", "text": '
    record = escaped + json.dumps(BODY) + "}"
    (tmp_path / "feed.jsonl").write_text(record + "\n")
    articles, skipped = _articles(tmp_path)
    [article] = articles.values()
    assert skipped == []
    assert article.article_id == "feed.jsonl#a\ufffd" and article.title == "T\ufffd"
    for value in (article.article_id, article.title, article.source, article.text):
        value.encode("utf-8")


def test_folders_nested_past_the_recursion_limit_are_read_like_any_other(tmp_path: Path) -> None:
    deepest = _nest_folders(tmp_path / "corpus", depth=1000)
    try:
        (deepest / "deep.txt").write_text(BODY)
        scan = scan_corpus(tmp_path / "corpus", 1_000_000)
        assert [source.path.rsplit("/", 1)[-1] for source in scan.sources] == ["deep.txt"]
        assert scan.skipped == []
    finally:
        _remove_nested(tmp_path / "corpus", deepest)


def _nest_folders(top: Path, depth: int) -> Path:
    top.mkdir()
    folder = top
    for _ in range(depth):
        folder = folder / "d"
        folder.mkdir()
    return folder


def _remove_nested(top: Path, deepest: Path) -> None:
    """Remove a folder chain from the bottom up (shutil.rmtree recurses and would fail)."""
    for file in deepest.iterdir():
        file.unlink()
    folder = deepest
    while folder != top.parent:
        folder.rmdir()
        folder = folder.parent


def test_any_failure_in_one_files_step_becomes_a_skip_with_its_reason() -> None:
    def broken() -> None:
        raise ValueError("line one\nline two")

    def too_deep() -> None:
        raise RecursionError("maximum recursion depth exceeded")

    assert guarded("a.txt", lambda: 7) == 7
    skip = guarded("a.txt", broken)
    assert skip.path == "a.txt" and "ValueError: line one line two" in skip.reason
    assert "nested too deeply" in guarded("b.txt", too_deep).reason


def test_a_binary_file_without_nul_bytes_is_skipped_by_its_share_of_control_bytes(
    tmp_path: Path,
) -> None:
    (tmp_path / "blob.txt").write_bytes(bytes(range(1, 256)) * 40)  # no NUL in the first 8 KB
    (tmp_path / "good.txt").write_text(BODY)
    articles, skipped = _articles(tmp_path)
    assert list(articles) == ["good.txt"]
    assert [s.path for s in skipped] == ["blob.txt"] and "binary" in skipped[0].reason


def test_text_with_a_few_control_characters_is_still_text(tmp_path: Path) -> None:
    (tmp_path / "page.txt").write_text(f"{BODY}\f\n\x1b[0m{BODY}\n" * 5)
    articles, skipped = _articles(tmp_path)
    assert list(articles) == ["page.txt"] and skipped == []


def test_one_bad_byte_keeps_a_utf8_file_utf8() -> None:
    data = "Trump’s plan – a café".encode() + b"\x81" + b" for all."
    assert decode(data) == "Trump’s plan – a café\ufffd for all."
    assert decode("Trump’s".encode() + b"\xff") == "Trump’s\ufffd"


def test_a_windows_1252_file_with_a_stray_utf8_pair_stays_windows_1252() -> None:
    data = "Prices rise: £3 – café, naïve, déjà vu.".encode("cp1252") + "é".encode()
    assert decode(data).startswith("Prices rise: £3 – café, naïve, déjà vu.")


def test_a_corpus_path_that_is_a_file_names_the_folder_holding_it(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(BODY)
    with pytest.raises(CorpusError, match="is a file, not a folder") as error:
        scan_corpus(tmp_path / "a.txt", 1000)
    assert f"--corpus {tmp_path}" in str(error.value)


def test_an_over_long_jsonl_line_is_skipped_without_being_read_whole(tmp_path: Path) -> None:
    """A one-line .jsonl far over MAX_ARTICLE_BYTES is read a bounded piece at a time."""
    limit, long_line = 64_000, 8_000_000
    with (tmp_path / "feed.jsonl").open("w") as feed:
        feed.write(json.dumps({"text": BODY, "id": "first"}) + "\n")
        feed.write('{"text": "' + "x" * long_line + '"}\n')
        feed.write(json.dumps({"text": BODY, "id": "after"}) + "\n")
    tracemalloc.start()
    try:
        scan = scan_corpus(tmp_path, limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [s.article_id for s in scan.sources] == ["feed.jsonl#first", "feed.jsonl#after"]
    [skip] = scan.skipped
    assert skip.path == "feed.jsonl:2" and "too large (8.0 MB" in skip.reason
    assert peak < 8 * limit, f"peak {peak:,} bytes for a {limit:,}-byte limit"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="Linux names mappings in /proc")
def test_reading_many_small_files_does_not_hold_a_memory_mapping_for_each(tmp_path: Path) -> None:
    # A process may hold about 65,000 mappings; one per file crashed a 200,000-file scan.
    # A limit above glibc's largest mmap threshold (32 MB) gave each read its own mapping.
    corpus = tmp_path / "posts"
    corpus.mkdir()
    for number in range(2000):
        (corpus / f"post-{number:05d}.txt").write_text(f"Post {number}\n\nA short post.\n")

    def mappings() -> int:
        return len(Path("/proc/self/maps").read_text().splitlines())

    before = mappings()
    scan = scan_corpus(corpus, 64_000_000)
    assert len(scan.sources) == 2000
    assert mappings() - before < 200


def test_a_file_that_grew_after_its_size_was_read_is_still_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from retrieval import loading

    path = tmp_path / "growing.txt"
    path.write_text("Title\n\nfirst part, and a longer second part written later")
    monkeypatch.setattr(loading.os, "fstat", lambda fd: SimpleNamespace(st_size=12))
    for limit, whole in ((1000, True), (20, False)):
        scan = loading.Scan()
        with path.open("rb") as handle:
            loading._scan_single(handle, "growing.txt", ".txt", limit, scan)
        if whole:
            assert scan.sources[0].raw.endswith(b"written later")
        else:  # grown past the limit since its size was read: skipped, as before
            assert not scan.sources and "too large" in scan.skipped[0].reason
