"""Feeds end to end: parsing, polls into a real index, backoff, and a poll killed mid-way.

A loopback server (tests/feed_pages.py) serves an RSS and an Atom feed whose entries
link to loopback story pages; the index, the embedding model and SQLite are real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.frontends.cli import main
from bot.library.adding import (
    Provenance,
    add_target,
    draft_from_url,
    file_stem,
    managed_folder,
    render,
    write_new_file,
)
from bot.library.feed_store import MAX_BACKOFF, EntryRef, FeedStore, feeds_summary, retry_delay
from bot.library.feeds import FeedRefused, check_feed, describe, parse_feed, poll_feeds
from bot.library.fetching import FeedBody, FetchLimits
from bot.settings import Settings
from retrieval.loading import split_front_matter
from retrieval.store import IndexStore
from tests.conftest import PROJECT, write_town_corpus
from tests.feed_pages import ATOM_STORIES, RSS_STORIES, feed_server, rss_xml, wait_for_hit

pytestmark = pytest.mark.slow
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ALL_STORIES = RSS_STORIES + ATOM_STORIES


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    corpus = write_town_corpus(tmp_path / "corpus")
    return Settings(
        _env_file=None,
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        fetch_allow_private=True,
        fetch_timeout_seconds=30,
    )


def _follow(settings: Settings, *urls: str) -> FeedStore:
    feeds = FeedStore(settings.index_dir)
    for url in urls:
        assert feeds.add_feed(url, url, "test", T0)
    return feeds


def _poll(settings: Settings, embedder, feeds: FeedStore, now: datetime = T0):
    with IndexStore(settings.index_dir) as store:
        return poll_feeds(settings, store, embedder, feeds, wait=True, now=now)


def _story_counts(settings: Settings, base: str) -> dict[int, int]:
    """How many indexed articles each story's page became (must be 1 each, or 0)."""
    with IndexStore(settings.index_dir) as store:
        sources = [store.article(a).source for a in store.manifest()]
    return {n: sources.count(f"{base}/story/{n}") for n in ALL_STORIES}


def test_both_kinds_of_feed_parse_oldest_first_with_links_resolved() -> None:
    with feed_server() as site:
        limits = FetchLimits(10, 1_000_000, allow_private=True)
        rss, atom = check_feed(f"{site.base}/rss", limits), check_feed(f"{site.base}/atom", limits)
    assert rss.title == "Dunmore Parish News" and atom.title == "Glenfield Notes"
    assert [e.link for e in rss.entries] == [f"{site.base}/story/{n}" for n in RSS_STORIES]
    assert [e.link for e in atom.entries] == [f"{site.base}/story/{n}" for n in ATOM_STORIES]
    assert atom.entries[0].key == "urn:feeds-test:story-4"


def test_a_web_page_is_no_feed_and_a_body_naming_a_file_is_never_opened(tmp_path: Path) -> None:
    with feed_server() as site, pytest.raises(FeedRefused, match="gives a web page, not an RSS"):
        check_feed(f"{site.base}/article", FetchLimits(10, 1_000_000, allow_private=True))
    local = tmp_path / "feed.xml"  # a real feed on this machine; the body only names it
    local.write_text(rss_xml("http://example.org", (1,)))
    with pytest.raises(FeedRefused, match="not an RSS or Atom feed"):
        parse_feed(FeedBody("https://x.example/f", "https://x.example/f", str(local).encode()))


def test_a_poll_adds_every_new_entry_once_and_a_second_poll_adds_nothing(
    settings: Settings, embedder
) -> None:
    with feed_server() as site:
        feeds = _follow(settings, f"{site.base}/rss", f"{site.base}/atom")
        first = _poll(settings, embedder, feeds)
        assert first.added == 5, first.lines()
        assert first.lines()[0] == "Dunmore Parish News: 3 added, 0 already had"
        stories_fetched = [h for h in site.hits if h.startswith("/story/")]
        second = _poll(settings, embedder, feeds)
        assert second.added == 0 and second.lines()[1] == "Glenfield Notes: 0 added, 0 already had"
        assert [h for h in site.hits if h.startswith("/story/")] == stories_fetched  # not again
        site.rss_stories = (*RSS_STORIES, 6)
        third = _poll(settings, embedder, feeds)
    assert third.added == 1 and _story_counts(settings, site.base) == dict.fromkeys(ALL_STORIES, 1)
    written = managed_folder(settings.corpus_dir) / f"{file_stem(third.results[0].added[0])}.md"
    assert split_front_matter(written.read_text())[0]["added_by"] == f"feed {site.base}/rss"
    assert [f.seen for f in feeds.feeds()] == [4, 2]


def test_feed_max_new_caps_a_poll_and_the_rest_wait(settings: Settings, embedder) -> None:
    settings = settings.model_copy(update={"feed_max_new": 2})
    with feed_server() as site:
        feeds = _follow(settings, f"{site.base}/rss", f"{site.base}/atom")
        counts = [_poll(settings, embedder, feeds).added for _ in range(3)]
        first_lines = _poll(settings, embedder, feeds).lines()
    assert counts == [2, 2, 1]
    assert _story_counts(settings, site.base) == dict.fromkeys(ALL_STORIES, 1)
    assert first_lines == ["Dunmore Parish News: 0 added, 0 already had",
                           "Glenfield Notes: 0 added, 0 already had"]  # fmt: skip


def test_an_entry_already_indexed_is_recorded_as_seen_without_fetching_it(
    settings: Settings, embedder
) -> None:
    with feed_server() as site:
        with IndexStore(settings.index_dir) as store:
            added = add_target(f"{site.base}/story/2", settings, store, embedder, "mod", wait=True)
        assert len(added.added) == 1
        feeds = _follow(settings, f"{site.base}/rss")
        report = _poll(settings, embedder, feeds)
    assert report.lines() == ["Dunmore Parish News: 2 added, 1 already had"]
    assert site.hits.count("/story/2") == 1  # only /add fetched it
    assert _story_counts(settings, site.base)[2] == 1 and feeds.feeds()[0].seen == 3


def test_an_entry_whose_page_fails_is_tried_three_times_then_given_up(
    settings: Settings, embedder
) -> None:
    with feed_server() as site:
        site.missing = {2}
        feeds = _follow(settings, f"{site.base}/rss")
        reports = [_poll(settings, embedder, feeds) for _ in range(4)]
        site.missing = set()
        _poll(settings, embedder, feeds)
    assert reports[0].lines() == ["Dunmore Parish News: 2 added, 0 already had, 1 failed"]
    assert "story/2: the page answered HTTP 404" in reports[0].results[0].failed[0]
    assert reports[2].results[0].failed[0].endswith("(given up)")
    assert reports[3].lines() == ["Dunmore Parish News: 0 added, 0 already had"]
    assert site.hits.count("/story/2") == 3 and _story_counts(settings, site.base)[2] == 0
    assert feeds.feeds()[0].seen == 3  # the feed itself is fine: not shown as failing
    assert not feeds.feeds()[0].failing


def test_feeds_from_the_command_line(
    settings: Settings, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FETCH_ALLOW_PRIVATE", "True")
    folders = ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    with feed_server() as site:
        assert main(["feeds", "add", f"{site.base}/article", *folders]) == 2
        assert "gives a web page, not an RSS or Atom feed" in capsys.readouterr().err
        assert main(["feeds", "add", f"{site.base}/rss", *folders]) == 0
        assert "Following “Dunmore Parish News”" in capsys.readouterr().out
        assert main(["feeds", "add", f"{site.base}/rss", *folders]) == 1
        assert main(["feeds", "add", f"{site.base}/broken", *folders]) == 2
        capsys.readouterr()
        assert main(["feeds", "list", *folders]) == 0
        assert capsys.readouterr().out.startswith(f"Dunmore Parish News <{site.base}/rss>: 0 ")
        assert main(["feeds", "poll", *folders]) == 0
        assert "Dunmore Parish News: 3 added, 0 already had" in capsys.readouterr().out
        assert main(["feeds", "remove", f"{site.base}/rss", *folders]) == 0
        assert "the articles it added stay" in capsys.readouterr().out
        assert main(["feeds", "remove", f"{site.base}/rss", *folders]) == 2
    assert _story_counts(settings, site.base) == {1: 1, 2: 1, 3: 1, 4: 0, 5: 0}


def test_a_broken_feed_backs_off_ever_longer_and_is_shown_failing(
    settings: Settings, embedder
) -> None:
    with feed_server() as site:
        feeds = _follow(settings, f"{site.base}/broken")
        first = _poll(settings, embedder, feeds, T0)
        retry_1 = datetime.fromisoformat(feeds.feeds()[0].next_try)
        _poll(settings, embedder, feeds, T0 + timedelta(minutes=30))  # waiting: not asked
        assert site.hits.count("/broken") == 1
        _poll(settings, embedder, feeds, retry_1)
        state = feeds.feeds()[0]
    assert "HTTP 500" in first.lines()[0] and "failed 1x in a row" in first.lines()[0]
    assert retry_1 == T0 + timedelta(minutes=60)  # FEED_POLL_MINUTES
    assert datetime.fromisoformat(state.next_try) == retry_1 + timedelta(minutes=120)
    assert state.failures == 2 and site.hits.count("/broken") == 2
    assert "FAILING 2x in a row: the page answered HTTP 500" in describe(state)
    summary = feeds_summary(settings.index_dir)
    assert summary.startswith("1 followed, 1 failing: ") and "HTTP 500" in summary
    assert retry_delay(30, timedelta(hours=1)) == MAX_BACKOFF == timedelta(hours=24)
    with pytest.raises(ValidationError, match="0 .no polling. or at least 1 minute"):
        Settings(_env_file=None, feed_poll_minutes=0.01)  # a tight loop is refused up front


def test_an_add_interrupted_after_writing_is_found_not_written_twice(
    settings: Settings, embedder
) -> None:
    """A poll killed after writing a story's file but before its sync: the next poll
    syncs first, so the story is indexed once (the SIGKILL test cannot aim this exactly)."""
    with feed_server() as site:
        feeds = _follow(settings, f"{site.base}/rss")
        link = f"{site.base}/story/1"
        draft = draft_from_url(link, FetchLimits.from_settings(settings))
        feeds.mark(
            f"{site.base}/rss", [EntryRef("tag:feeds.test,2026:story-1", link)], "writing", T0
        )
        content = render(draft, Provenance.now(f"feed {site.base}/rss"))
        write_new_file(
            managed_folder(settings.corpus_dir), file_stem(draft.fields["title"]), content
        )
        report = _poll(settings, embedder, feeds)
    assert report.lines() == ["Dunmore Parish News: 2 added, 1 already had"]
    assert _story_counts(settings, site.base) == {1: 1, 2: 1, 3: 1, 4: 0, 5: 0}
    assert len(list(managed_folder(settings.corpus_dir).glob("*.md"))) == 3


def test_a_poll_killed_mid_way_loses_nothing_and_duplicates_nothing(
    settings: Settings, embedder, tmp_path: Path
) -> None:
    with feed_server() as site:
        feeds = _follow(settings, f"{site.base}/rss", f"{site.base}/atom")
        site.slow = {ATOM_STORIES[1]}  # the second feed's second entry never comes in time
        env = os.environ | {"PYTHONPATH": str(PROJECT), "FETCH_ALLOW_PRIVATE": "True"}
        poll = subprocess.Popen(
            [sys.executable, "-m", "bot", "feeds", "poll", "--corpus", str(settings.corpus_dir),
             "--index", str(settings.index_dir)],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            reached = wait_for_hit(site, f"/story/{ATOM_STORIES[1]}", 600)
        finally:
            poll.send_signal(signal.SIGKILL)
            poll.wait(timeout=60)
        assert reached, poll.stderr.read().decode()
        between = _story_counts(settings, site.base)
        site.slow = set()
        _poll(settings, embedder, feeds)
        again = _poll(settings, embedder, feeds)
    assert between == {1: 1, 2: 1, 3: 1, 4: 0, 5: 0}  # the first feed was done, then killed
    assert _story_counts(settings, site.base) == dict.fromkeys(ALL_STORIES, 1)
    assert len(list(managed_folder(settings.corpus_dir).glob("*.md"))) == 5
    assert again.added == 0 and [f.seen for f in feeds.feeds()] == [3, 2]
