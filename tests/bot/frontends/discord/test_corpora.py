"""Per-server corpora (CORPUS_PER_GUILD), driven through SimCord (a fake Discord) on the
real command tree and cogs, with the bot wired as `python -m bot discord` wires it
(`open_communities`): each server's real index in a temp folder, one real embedding
model, and one answer model shared by both servers (scripted: the Discord layer and the
isolation are under test, not answer quality).

Server A has the Glenfield and Brookvale articles, server B the Kestrel and Pellham
ones. Every question of each server's set is asked in the other, and nothing B's
members or moderators see names, quotes or links an article of A's; B's moderators
change nothing of A's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import discord
import pytest

from bot.app import open_communities
from bot.communities import guild_settings
from bot.generation.generators import Reply
from bot.library.managed import added_folder
from bot.settings import Settings
from retrieval.errors import IndexUnavailable
from retrieval.store import IndexStore
from tests.bot.conftest import ScriptedGenerator
from tests.bot.frontends.discord.cogs.test_adding import FERRY
from tests.bot.frontends.discord.cogs.test_feedback import _vote_ids
from tests.conftest import TOWN_ARTICLES
from tests.feed_pages import feed_server

pytestmark = pytest.mark.slow
A, B = 1300000000000000001, 1300000000000000002  # the two servers' ids
ARTICLES = {
    A: ("glenfield_bridge.txt", "brookvale_library.txt"),
    B: ("kestrel_flights.txt", "orchard_festival.txt"),
}
QUESTIONS = {  # each server's questions, with what the answer and its quote must hold
    A: {
        "Who leads the council in Glenfield?": "Mara Quist",
        "Who paid for the Brookvale library works?": "Halvorsen Trust",
    },
    B: {
        "Who is the chief executive of Kestrel Airlines?": "Ivo Brandt",
        "Who organises the Pellham orchard festival?": "Tilde Marsh",
    },
}
# What would show that an article of A's reached B: its titles, files, facts and names.
A_MARKS = (
    "Glenfield backs riverside walkway", "Brookvale library reopens", "glenfield_bridge",
    "brookvale_library", "Mara Quist", "Halvorsen", "4.2m", "footbridge", "Owen Pryce",
    "River Alder",
)  # fmt: skip
BASE_URL = "https://news.example/articles/"


class ByQuestion(ScriptedGenerator):
    """One model for both servers that replies with the answer scripted for the question
    it is asked (found in the prompt), whichever server's articles it was shown."""

    def __init__(self, answers: dict[str, str]) -> None:
        super().__init__("")
        self.answers = answers

    def generate(self, messages, on_text, time_budget) -> Reply:
        prompt = " ".join(str(m.get("content", "")) for m in messages)
        answer = next((a for q, a in self.answers.items() if q in prompt), "not found")
        if on_text is not None:
            on_text(answer)
        return Reply((1,), answer, 0.01, 0.02)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Two servers with corpora of their own; loopback feeds allowed, no timed poll."""
    return Settings(
        _env_file=None,
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        corpus_per_guild=True,
        discord_guild_ids=[A, B],
        source_base_url=BASE_URL,
        min_confidence=0.0,  # every supported answer is shown (the model is scripted)
        user_cooldown_seconds=0,
        stream_edit_seconds=0.2,
        fetch_allow_private=True,
        feed_poll_minutes=0,
    )


def _build(settings: Settings, sync_copy) -> None:
    """Each server's corpus folder and index, as `ingest --guild ID` leaves them (a copy of
    the index built once per corpus in the session)."""
    for guild_id, names in ARTICLES.items():
        own = guild_settings(settings, guild_id)
        own.corpus_dir.mkdir(parents=True)
        for name in names:
            (own.corpus_dir / name).write_text(TOWN_ARTICLES[name], encoding="utf-8")
        sync_copy(own.corpus_dir, own.index_dir)


@pytest.fixture
def simcord_bot(settings: Settings, sync_copy):
    from bot.frontends.discord.client import AnswerBot

    _build(settings, sync_copy)
    generator = ByQuestion({q: a for questions in QUESTIONS.values() for q, a in questions.items()})
    with open_communities(settings, generator) as communities:
        yield AnswerBot(communities, settings)


@pytest.fixture
def servers(simcord_env):
    """Both servers, each with a channel, a member and a moderator."""
    env = simcord_env
    made = {}
    for guild_id, name in ((A, "Alder"), (B, "Birch")):
        guild = env.create_guild(name, id=guild_id)
        mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
        made[guild_id] = (
            guild,
            guild.create_text_channel("general"),
            guild.add_member(env.create_user(f"member-{name}")),
            guild.add_member(env.create_user(f"mod-{name}"), roles=[mods]),
        )
    return env, made


def _said(result) -> str:
    """Everything one interaction showed: its reply and every follow-up."""
    messages = [result.response, *result.followups]
    return "\n".join(m.content or "" for m in messages if m is not None)


def _leaks(text: str) -> list[str]:
    return [mark for mark in A_MARKS if mark.lower() in text.lower()]


def _indexed(settings: Settings, guild_id: int) -> list[str]:
    with IndexStore(guild_settings(settings, guild_id).index_dir) as store:
        return sorted(a.article_id for a in store.article_summaries())


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


async def test_each_server_is_answered_from_its_own_articles_only(servers) -> None:
    env, made = servers
    _, a_channel, a_member, _ = made[A]
    _, b_channel, b_member, _ = made[B]
    for question, gold in QUESTIONS[A].items():  # at home, A's questions are answered
        said = _said(await a_member.slash(a_channel, "ask", question=question))
        assert said.startswith(gold) and BASE_URL in said, said
    for question, gold in QUESTIONS[B].items():
        said = _said(await b_member.slash(b_channel, "ask", question=question))
        assert said.startswith(gold) and BASE_URL in said, said
        said = _said(await a_member.slash(a_channel, "ask", question=question))
        assert gold not in said and "kestrel" not in said.lower(), said  # and the other way
    for question in QUESTIONS[A]:  # A's questions in B: declined, never an A article
        said = _said(await b_member.slash(b_channel, "ask", question=question))
        assert _leaks(said) == [], said
        await b_member.send(b_channel, f"{env.bot.user.mention} {question}")
        reply = b_channel.last_message
        assert reply.author.id == env.bot.user.id and _leaks(reply.content) == [], reply.content


async def test_a_servers_lists_help_and_feedback_show_only_its_own(servers) -> None:
    env, made = servers
    _, a_channel, a_member, a_mod = made[A]
    _, b_channel, b_member, b_mod = made[B]
    question = next(iter(QUESTIONS[A]))
    answer = (await a_member.slash(a_channel, "ask", question=question)).response
    await a_member.click(answer, custom_id=_vote_ids(answer)["👎"])  # a report in A
    await a_mod.slash(a_channel, "remove", article="Brookvale library reopens")  # hidden in A
    a_feedback = _said(await a_mod.slash(a_channel, "feedback"))
    assert "Mara Quist" in a_feedback, "A's moderator sees A's report"
    gap = "Which bus route stops at the Glenfield depot?"
    await a_member.slash(a_channel, "ask", question=gap)  # declined in A
    assert "Glenfield depot" in _said(await a_mod.slash(a_channel, "gaps"))

    articles = _said(await b_member.slash(b_channel, "articles"))
    assert "**2 articles**" in articles and "Kestrel Airlines" in articles
    assert _leaks(articles) == [], articles
    found = _said(await b_member.slash(b_channel, "articles", words="Glenfield"))
    assert found.startswith("No articles matching")
    for command in ("remove", "restore"):  # restore: A's moderator hid one of A's above
        choices = await b_mod.autocomplete(b_channel, command, "article", "")
        assert _leaks(str(choices)) == [], (command, choices)
    removable = await b_mod.autocomplete(b_channel, "remove", "article", "")
    assert sorted(c["value"] for c in removable) == sorted(ARTICLES[B])
    asked_nothing = _said(await b_member.slash(b_channel, "ask", question=" "))
    assert "for example" in asked_nothing and _leaks(asked_nothing) == [], asked_nothing
    helped = _said(await b_member.slash(b_channel, "help"))
    assert "**For example**" in helped and _leaks(helped) == [], helped
    b_feedback = _said(await b_mod.slash(b_channel, "feedback"))
    assert _leaks(b_feedback) == [] and question not in b_feedback, b_feedback
    b_gaps = _said(await b_mod.slash(b_channel, "gaps"))
    assert _leaks(b_gaps) == [] and "depot" not in b_gaps, b_gaps
    status = _said(await b_mod.slash(b_channel, "status"))
    assert "**Articles:** 2" in status and "Hidden" not in status, status
    assert "Hidden" in _said(await a_mod.slash(a_channel, "status"))


async def test_a_servers_moderator_cannot_change_another_servers_articles(
    servers, settings: Settings
) -> None:
    env, made = servers
    _, a_channel, _, a_mod = made[A]
    _, b_channel, _, b_mod = made[B]
    a = guild_settings(settings, A)
    await a_mod.slash(a_channel, "remove", article="Brookvale library reopens")  # A hides one
    (a.corpus_dir / "new.txt").write_text("Budget approved\n\nThe council approved it.\n")
    a_files, a_articles = _files(a.corpus_dir), _indexed(settings, A)
    a_hidden = (a.index_dir / "hidden.json").read_bytes()
    with feed_server() as site:
        results = {
            "remove": await b_mod.slash(b_channel, "remove", article="glenfield_bridge.txt"),
            "restore": await b_mod.slash(b_channel, "restore", article="brookvale_library.txt"),
            "reload": await b_mod.slash(b_channel, "reload", force=True),
            "add": await b_mod.slash(b_channel, "add", file=("ferry.md", FERRY)),
            "feed add": await b_mod.slash(b_channel, "feed add", url=f"{site.base}/rss"),
        }
    said = {name: _said(result) for name, result in results.items()}
    assert said["remove"].startswith("No article matches"), said  # B has none such
    assert said["restore"].startswith("No hidden article matches"), said
    assert "0 added" in said["reload"] and "new.txt" not in said["reload"], said
    assert "Added “Ferry timetable changes”" in said["add"] and "Following" in said["feed add"]
    # B's changes went to B's folders; A's corpus, index, hidden list and feeds are as they were
    assert _files(a.corpus_dir) == a_files and not added_folder(a.corpus_dir).exists()
    assert _indexed(settings, A) == a_articles and "new.txt" not in a_articles
    assert (a.index_dir / "hidden.json").read_bytes() == a_hidden
    assert env.bot.communities.for_guild(A).library.feeds.feeds() == []
    assert [f.url for f in env.bot.communities.for_guild(B).library.feeds.feeds()] == [
        f"{site.base}/rss"
    ]
    assert "added/ferry-timetable-changes.md" in _indexed(settings, B)
    assert _leaks(said["reload"] + said["add"] + said["feed add"]) == [], said


async def test_direct_messages_are_refused_with_where_to_ask(servers) -> None:
    env, made = servers
    _, _, member, _ = made[B]
    await member.send_dm(f"{env.bot.user.mention} {next(iter(QUESTIONS[B]))}")
    dm = member.user.dm_channel
    assert dm is None or all(m.author.id != env.bot.user.id for m in dm.history())


def test_a_server_without_an_index_stops_the_start_naming_it(settings: Settings, sync_copy) -> None:
    _build(settings, sync_copy)
    shutil.rmtree(guild_settings(settings, B).index_dir)  # B's index was never built
    with pytest.raises(IndexUnavailable) as error, open_communities(settings, ByQuestion({})):
        pass
    assert f"Server {B}" in str(error.value) and f"--guild {B}" in str(error.value)


def test_every_server_shares_one_answer_model_and_one_embedding_model(
    settings: Settings, sync_copy
) -> None:
    _build(settings, sync_copy)
    generator = ByQuestion({})
    with open_communities(settings, generator) as communities:
        a, b = communities.for_guild(A), communities.for_guild(B)
        assert a.engine.generator is b.engine.generator is generator
        assert a.engine.searcher.embedder is b.engine.searcher.embedder is a.library.embedder
        assert a.engine.exemplars is b.engine.exemplars  # embedded once, for both
        assert a.engine.store is not b.engine.store and a.feedback.path != b.feedback.path
        assert communities.for_guild(None) is None and communities.for_guild(999) is None


async def test_a_servers_open_questions_are_asked_again_only_after_its_own_articles_change(
    servers, settings: Settings
) -> None:
    from bot.feedback.followups import FollowUps
    from tests.bot.frontends.discord.cogs.test_followups import FERRY_QUESTION, follow_up_button

    env, made = servers
    _, a_channel, a_member, a_mod = made[A]
    _, b_channel, _, b_mod = made[B]
    env.bot.community(A).engine.generator.answers[FERRY_QUESTION] = "7:15"  # the shared model
    declined = (await a_member.slash(a_channel, "ask", question=FERRY_QUESTION)).response
    await a_member.click(declined, custom_id=follow_up_button(declined))
    a_open = FollowUps(guild_settings(settings, A).index_dir)
    assert len(a_open.open_questions()) == 1, "in A's own index folder"
    assert FollowUps(guild_settings(settings, B).index_dir).open_questions() == []

    await b_mod.slash(b_channel, "add", file=("ferry.md", FERRY))  # B's articles change
    assert a_channel.last_message.id == declined.id and len(a_open.open_questions()) == 1
    assert all("7:15" not in (m.content or "") for m in b_channel.history()), "nothing in B"

    await a_mod.slash(a_channel, "add", file=("ferry.md", FERRY))  # A's do
    reply = a_channel.last_message
    assert reply.content.startswith(f"<@{a_member.id}> you asked") and "7:15" in reply.content
    assert a_open.open_questions() == []
