"""Open questions in their SQLite file: expiry, which articles changed, opening twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.answering.outcomes import Decline
from bot.feedback.followups import (
    FollowUps,
    NewQuestion,
    changed_articles,
    cutoff,
    followable,
)
from retrieval.articles import ManifestEntry

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MANIFEST = {"a.md": ManifestEntry("a.md", "fa1"), "b.md": ManifestEntry("b.md", "fb1")}


def question(answer_id: int, days_ago: float, member: int = 7) -> NewQuestion:
    when = (NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")
    return NewQuestion(answer_id, 1, 2, 3, member, f"Is the harbour gate {answer_id} shut?", when)


@pytest.fixture
def followups(tmp_path: Path) -> FollowUps:
    return FollowUps(tmp_path / "index")


def test_questions_older_than_the_days_expire_and_newer_stay(followups: FollowUps) -> None:
    for answer_id, days_ago in ((1, 20), (2, 14.01), (3, 13.99), (4, 0)):
        assert followups.open(question(answer_id, days_ago), lambda: MANIFEST)
    assert followups.expire(cutoff(14, NOW)) == 2
    assert [q.answer_id for q in followups.open_questions()] == [3, 4]
    assert followups.expire(cutoff(14, NOW)) == 0


def test_a_member_opens_a_question_once_and_closing_forgets_them(followups: FollowUps) -> None:
    assert followups.open(question(1, 0), lambda: MANIFEST)
    assert not followups.open(question(1, 0), lambda: MANIFEST), "already open"
    assert followups.open(question(1, 0, member=8), lambda: MANIFEST), "another member"
    first, second = followups.open_questions()
    followups.close([first.question_id])
    assert followups.open_questions() == [second]
    followups.close([second.question_id])
    assert followups.open_questions() == []


def test_changed_articles_are_the_new_and_the_changed_not_the_removed() -> None:
    later = {"a.md": ManifestEntry("a.md", "fa2"), "c.md": ManifestEntry("c.md", "fc1")}
    assert changed_articles(later, {"a.md": "fa1", "b.md": "fb1"}) == {"a.md", "c.md"}
    assert changed_articles(MANIFEST, {"a.md": "fa1", "b.md": "fb1"}) == frozenset()


def test_the_articles_a_question_was_declined_against_are_the_baseline(followups) -> None:
    read: list[int] = []

    def manifest() -> dict[str, ManifestEntry]:
        read.append(1)
        return MANIFEST

    followups.open(question(1, 0), manifest)
    followups.open(question(2, 0), manifest)
    assert len(read) == 1, "read only when the first question opens"
    later = {**MANIFEST, "c.md": ManifestEntry("c.md", "fc1")}
    assert followups.changed(later) == {"c.md"}
    followups.checked(later)
    assert followups.changed(later) == frozenset()


def test_only_declines_an_article_could_answer_are_followed() -> None:
    assert followable(Decline.NOTHING_RELEVANT) and followable(Decline.UNSURE)
    assert not followable(Decline.EMPTY_QUESTION) and not followable(Decline.ORDERED_BY_ARTICLE)
    assert not followable(None), "an answer is no decline"
