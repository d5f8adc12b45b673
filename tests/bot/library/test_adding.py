"""Adding articles: files and pages become front-mattered files in the managed folder,
indexed by the same sync as /reload (real index, real embedding model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.library.adding import (
    LEFTOVER_SECONDS,
    AddRefused,
    Provenance,
    add_drafts,
    draft_from_page,
    drafts_from_file,
    drafts_from_target,
    file_stem,
    managed_folder,
    render,
    write_new_file,
)
from bot.library.fetching import FetchLimits, fetch_page
from bot.library.managed import added_folder
from bot.settings import Settings
from retrieval.errors import SyncRefused
from retrieval.loading import split_front_matter
from retrieval.store import IndexStore
from tests.conftest import write_town_corpus
from tests.web_pages import ARTICLE_FACT, ARTICLE_TITLE, CANONICAL, web_server

pytestmark = pytest.mark.slow
BY = Provenance("mod (Discord 42)", "2026-01-02T03:04:05+00:00")
FERRY = (
    "# Ferry timetable changes\n\nThe Dunmore ferry will leave at 7:15 from Monday, the "
    "harbour office said. The last crossing of the day moves to 21:40.\n"
)


@pytest.fixture
def library(tmp_path: Path, sync_copy, index_dir: Path, embedder):
    corpus = write_town_corpus(tmp_path / "corpus")
    sync_copy(corpus)
    settings = Settings(_env_file=None, corpus_dir=corpus, index_dir=index_dir)
    with IndexStore(index_dir) as store:

        def add(drafts, **kwargs):
            return add_drafts(drafts, settings, store, embedder, BY, **kwargs)

        yield add, store, settings


def _added_files(settings: Settings) -> list[Path]:
    folder = added_folder(settings.corpus_dir)
    return sorted(folder.iterdir()) if folder.exists() else []


def test_an_attached_markdown_file_is_written_with_front_matter_and_indexed(library) -> None:
    add, store, settings = library
    report = add(drafts_from_file("ferry.md", FERRY.encode(), 100_000))
    [added] = report.added
    assert added.title == "Ferry timetable changes"
    assert added.path == "added/ferry-timetable-changes.md"
    assert added.passages == len(store.chunks_of(added.path)) >= 1
    assert report.lines()[0] == (
        "Added “Ferry timetable changes” as added/ferry-timetable-changes.md: "
        f"{added.passages} passages indexed."
    )
    fields, body = split_front_matter((settings.corpus_dir / added.path).read_text())
    assert fields == {
        "title": "Ferry timetable changes",
        "added_by": "mod (Discord 42)",
        "added_at": "2026-01-02T03:04:05+00:00",
    }
    assert "leave at 7:15" in body and "7:15" in store.article(added.path).text
    assert [p.name for p in _added_files(settings)] == ["ferry-timetable-changes.md"]


def test_the_same_text_again_is_already_had_and_nothing_is_written(library) -> None:
    add, store, settings = library
    add(drafts_from_file("ferry.md", FERRY.encode(), 100_000))
    again = add(drafts_from_file("copy.md", FERRY.encode(), 100_000))
    assert again.added == [] and again.sync is None
    assert again.lines() == ["copy.md: already have it: Ferry timetable changes"]
    assert len(_added_files(settings)) == 1 and store.article_count() == 5


def test_an_article_the_operator_indexed_is_a_duplicate_too(library) -> None:
    add, _, settings = library
    operator_file = (settings.corpus_dir / "brookvale_library.txt").read_bytes()
    report = add(drafts_from_file("library.txt", operator_file, 100_000))
    assert report.lines() == ["library.txt: already have it: Brookvale library reopens"]
    assert _added_files(settings) == []


def test_a_page_is_added_with_its_canonical_url_and_date_then_any_address_of_it_is_had(
    library,
) -> None:
    add, store, settings = library
    limits = FetchLimits(5.0, 100_000, allow_private=True)
    with web_server() as site:
        report = add([draft_from_page(fetch_page(f"{site}/article", limits))])
        [added] = report.added
        article = store.article(added.path)
        assert article.title == ARTICLE_TITLE and article.source == CANONICAL
        assert article.date == "2024-03-05" and ARTICLE_FACT in article.text
        fields, _ = split_front_matter((settings.corpus_dir / added.path).read_text())
        assert fields["url"] == CANONICAL and fields["added_by"] == BY.added_by
        again = add([draft_from_page(fetch_page(f"{site}/hop/2", limits))])  # redirects there
    assert again.lines() == [f"{site}/hop/2: already have it: {ARTICLE_TITLE}"]
    assert len(_added_files(settings)) == 1


def test_a_jsonl_file_adds_one_file_per_line_and_a_bad_line_refuses_it_all(library) -> None:
    add, store, settings = library
    lines = [
        {"title": "Pier reopens", "url": "https://gazette.example/pier", "text": "The pier "
         "at Dunmore reopened on Saturday after repairs costing £300,000."},
        {"text": "Kite festival\n\nThe kite festival on Marlow beach drew 4,000 visitors."},
    ]  # fmt: skip
    data = "\n".join(json.dumps(line) for line in lines).encode()
    with pytest.raises(AddRefused, match=r'line 3 needs an object with a "text" string'):
        drafts_from_file("feed.jsonl", data + b'\n{"title": "no text"}', 100_000)
    report = add(drafts_from_file("feed.jsonl", data, 100_000))
    assert [a.title for a in report.added] == ["Pier reopens", "Kite festival"]
    assert store.article("added/pier-reopens.md").source == "https://gazette.example/pier"
    assert store.article_count() == 6


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("photo.jpg", b"\xff\xd8\xff", "attach a .txt, .md, .html or .jsonl file"),
        ("notes.txt", b"\x00\x01binary", "binary file"),
        ("empty.md", b"  \n", "empty"),
        ("huge.txt", b"word " * 30_000, "too large"),
        ("menu.html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no article"),
    ],
)
def test_bad_attachments_are_refused_with_how_to_fix(name: str, data: bytes, why: str) -> None:
    with pytest.raises(AddRefused, match=why):
        drafts_from_file(name, data, 100_000)


def test_a_different_article_with_the_same_title_never_overwrites_a_file(library) -> None:
    add, store, settings = library
    folder = added_folder(settings.corpus_dir)
    folder.mkdir()
    (folder / "ferry-timetable-changes.md").write_text("# Kept\n\nAn operator's own text.\n")
    report = add(drafts_from_file("ferry.md", FERRY.encode(), 100_000))
    assert report.added[0].path == "added/ferry-timetable-changes-2.md"
    assert (folder / "ferry-timetable-changes.md").read_text().startswith("# Kept")
    assert [p.name for p in _added_files(settings)] == [
        "ferry-timetable-changes-2.md",
        "ferry-timetable-changes.md",
    ]  # no temporary file left behind


def test_a_sync_that_fails_takes_the_new_file_out_again(library, tmp_path: Path, embedder) -> None:
    """An index built from another folder refuses the sync: the folder stays as it was."""
    _, store, settings = library
    other = write_town_corpus(tmp_path / "other")
    elsewhere = settings.model_copy(update={"corpus_dir": other})  # the same index
    with pytest.raises(SyncRefused):
        add_drafts(
            drafts_from_file("f.md", FERRY.encode(), 100_000), elsewhere, store, embedder, BY
        )
    assert list(added_folder(other).iterdir()) == []
    assert store.article_count() == 4


def test_file_names_are_safe_whatever_the_title() -> None:
    assert file_stem("../../etc/passwd") == "etc-passwd"
    assert file_stem("Café: “Ça va?” / Ölmühle") == "cafe-ca-va-olmuhle"
    assert file_stem("…") == "article" and len(file_stem("word " * 50)) <= 60


def test_a_local_path_is_read_once_and_must_be_a_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, corpus_dir=tmp_path, max_article_bytes=1000)
    (tmp_path / "big.txt").write_bytes(b"x" * 2000)
    (tmp_path / "ok.txt").write_text("Ferry news\n\nThe ferry leaves at seven.\n")
    assert drafts_from_target(str(tmp_path / "ok.txt"), settings)[0].body.startswith("Ferry")
    with pytest.raises(AddRefused, match="too large"):
        drafts_from_target(str(tmp_path / "big.txt"), settings)
    with pytest.raises(AddRefused, match="neither a file nor an http"):
        drafts_from_target(str(tmp_path / "nowhere.txt"), settings)


def test_a_jsonl_text_may_hold_a_unicode_line_separator() -> None:
    data = json.dumps({"title": "Pier", "text": "One\u2028two words."}, ensure_ascii=False)
    [draft] = drafts_from_file("feed.jsonl", data.encode(), 1000)
    assert draft.body == "One\u2028two words." and draft.fields == {"title": "Pier"}


def test_a_write_that_fails_leaves_no_file_behind(tmp_path: Path, monkeypatch) -> None:
    def disk_full(source, target):  # fails as os.link would
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bot.library.adding.os.link", disk_full)
    with pytest.raises(AddRefused, match="could not write to .*No space left on device"):
        write_new_file(tmp_path, "ferry", FERRY)
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_midway_takes_out_the_files_written_before_it(
    library, monkeypatch
) -> None:
    add, store, settings = library
    real_link, links = os.link, []

    def second_write_fails(source, target):
        links.append(target)
        if len(links) == 2:
            raise OSError(28, "No space left on device")
        real_link(source, target)

    monkeypatch.setattr("bot.library.adding.os.link", second_write_fails)
    drafts = drafts_from_file("ferry.md", FERRY.encode(), 100_000)
    drafts += drafts_from_file("kites.txt", b"Kite festival\n\nThe kites flew high.\n", 1000)
    with pytest.raises(AddRefused, match="No space left"):
        add(drafts)
    assert _added_files(settings) == [] and store.article_count() == 4


def test_an_add_killed_before_its_sync_is_not_added_twice(library) -> None:
    """The file of an add killed between writing and syncing is found by the next add of
    the same text, which indexes it instead of writing a second copy, and says it added
    it: the article is new to the index (`add` exits 0, not 1 "nothing new")."""
    add, store, settings = library
    [draft] = drafts_from_file("ferry.md", FERRY.encode(), 100_000)
    folder = managed_folder(settings.corpus_dir)
    left_behind = write_new_file(folder, "ferry-timetable", render(draft, BY))
    assert store.article(left_behind.relative_to(settings.corpus_dir).as_posix()) is None

    report = add(drafts_from_file("ferry.md", FERRY.encode(), 100_000))

    assert report.duplicates == []
    relative = left_behind.relative_to(settings.corpus_dir).as_posix()
    assert [(a.title, a.path) for a in report.added] == [("Ferry timetable changes", relative)]
    assert _added_files(settings) == [left_behind]
    assert store.article(left_behind.relative_to(settings.corpus_dir).as_posix()) is not None


def test_a_killed_adds_half_written_file_is_swept_and_a_running_adds_is_left(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    folder = managed_folder(corpus)
    stale, fresh = folder / ".adding-killed.tmp", folder / ".adding-running.tmp"
    stale.write_text("half an article")
    fresh.write_text("an article being written now")
    two_hours_ago = stale.stat().st_mtime - 2 * LEFTOVER_SECONDS
    os.utime(stale, (two_hours_ago, two_hours_ago))
    managed_folder(corpus)  # every add opens its folder this way
    assert not stale.exists(), "a killed add's leftover stays forever"
    assert fresh.exists(), "another process's add in progress lost its file"
