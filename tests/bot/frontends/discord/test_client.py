"""The real command tree and cogs, driven offline through SimCord (a fake Discord).

The engine is real (seed index, real embedding model); the model is scripted here
because these tests cover the Discord layer, not answer quality (see test_answering).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from dataclasses import replace
from pathlib import Path

import discord
import pytest

from bot.answering.engine import NOT_FOUND, UNSURE, Engine
from bot.answering.prompting import Prompts
from bot.communities import Communities
from bot.frontends.discord.answer_queue import AnswerQueue
from bot.frontends.discord.client import AnswerBot
from bot.frontends.discord.cogs import replies
from bot.frontends.discord.cogs.admin import read_status
from bot.frontends.discord.cogs.errors import APOLOGY
from bot.frontends.discord.cogs.host import CommunityBot
from bot.frontends.discord.cogs.replies import THINKING
from bot.frontends.discord.formatting import escape_markdown
from bot.library.collection import Library
from bot.settings import Settings
from retrieval.search import Searcher
from retrieval.store import IndexStore
from tests.bot.conftest import TRUSTING, ScriptedGenerator, policy
from tests.conftest import PROJECT, TOWN_ARTICLES, write_town_corpus

pytestmark = pytest.mark.slow
QUESTION = "Who leads the council in Glenfield?"
MOD_ROLE = 4242


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    return write_town_corpus(target)


def discord_settings(corpus: Path, index_dir: Path, **changes: object) -> Settings:
    """The Discord tests' settings: no cooldown, quick streaming edits, and `changes`."""
    return Settings(
        _env_file=None,
        corpus_dir=corpus,
        index_dir=index_dir,
        user_cooldown_seconds=0,
        stream_edit_seconds=0.2,
        **changes,
    )


@pytest.fixture
def settings(corpus: Path, index_dir: Path) -> Settings:
    return discord_settings(corpus, index_dir)


@pytest.fixture
def engine(settings: Settings, embedder, injection_exemplars, sync_copy, corpus: Path):
    sync_copy(corpus)
    with IndexStore(settings.index_dir) as store:
        yield Engine(
            store,
            Searcher(store, embedder),
            ScriptedGenerator("Mara Quist"),
            Prompts.load(PROJECT / "prompts"),
            TRUSTING,
            injection_exemplars,
        )


@pytest.fixture
def library(engine: Engine, settings: Settings) -> Library:
    """The library over the engine's index and embedding model, as `bot.app` builds it."""
    return Library(settings, engine.store, engine.searcher.embedder)


@pytest.fixture
def simcord_bot(engine: Engine, library: Library, settings: Settings) -> AnswerBot:
    return AnswerBot.single(engine, library, settings)


@pytest.fixture
def world(simcord_env):
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(simcord_env.create_user("alice"))
    return simcord_env, guild, channel, alice


def _posted_json(env) -> list[dict]:
    return [entry.json for entry in env.http_requests if isinstance(entry.json, dict)]


def test_the_bot_has_everything_the_cogs_use_of_it() -> None:
    """The cogs know the bot only as `CommunityBot` (`cogs/host.py`): `AnswerBot` must
    have every attribute and method it lists."""
    assert isinstance(AnswerBot(Communities({}), Settings(_env_file=None)), CommunityBot)


async def test_ask_defers_at_once_then_answers_with_quotes(world) -> None:
    env, _, channel, alice = world
    result = await alice.slash(channel, "ask", question=QUESTION)
    callbacks = [e.json for e in env.http_requests if e.path.endswith("/callback")]
    assert callbacks[0] == {"type": 5}  # deferred: Discord's 3-second rule is met at once
    text = result.response.content
    assert text.startswith("Mara Quist") and "\n> " in text and "— *" in text


def _shown(env) -> list[str]:
    """What the bot's reply said, message sent and each edit, in order."""
    return [j["content"] for j in _posted_json(env) if isinstance(j.get("content"), str)]


CHECKING = "*Checking this passage:*\n> "
BRIDGE_SOURCE = "\n— *Glenfield backs riverside walkway*"


def _checked_quote(message: str, store: IndexStore) -> str:
    """The passage quoted under "Checking this passage:", which must be stored text."""
    quoted = message.removeprefix(CHECKING).split("\n", 1)[0]
    text = re.sub(r"\\(.)", r"\1", quoted)
    assert text in store.article("glenfield_bridge.txt").text, text
    return quoted


class TypedAnswer(ScriptedGenerator):
    """Writes its answer a letter at a time, `pause` seconds apart, as the real model streams."""

    def __init__(self, answer: str, pause: float) -> None:
        super().__init__(answer)
        self.pause = pause

    def generate(self, messages, on_text, time_budget):
        for end in range(1, len(self.reply.answer) + 1):
            time.sleep(self.pause)
            on_text(self.reply.answer[:end])
        return self.reply


async def test_the_passage_being_checked_shows_first_then_the_answer_replaces_it(world) -> None:
    env, _, channel, alice = world
    result = await alice.slash(channel, "ask", question=QUESTION)
    first, *_, final = _shown(env)
    assert first.startswith(CHECKING) and BRIDGE_SOURCE in first and "Mara Quist ▌" not in first
    quoted = _checked_quote(first, env.bot.engine.store)
    assert final == result.response.content and final.startswith("Mara Quist\n\n> ")
    assert "Checking" not in final and "▌" not in final and "related" not in final
    assert quoted in final, "here the answer's quote is the passage that was checked"


async def test_a_declined_answer_keeps_the_checked_passage_marked_as_related(world) -> None:
    env, _, channel, alice = world
    env.bot.engine.policy = policy(min_confidence=1.0)
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    thinking, checking, final = _shown(env)
    assert thinking == THINKING and checking.startswith(CHECKING)
    quoted = _checked_quote(checking, env.bot.engine.store)
    assert final == channel.last_message.content
    assert final.startswith(escape_markdown(UNSURE)) and "Checking" not in final
    assert f"> {quoted}{BRIDGE_SOURCE} · *related, not an answer*" in final


async def test_nothing_relevant_shows_no_passage_to_check(world) -> None:
    env, _, channel, alice = world
    result = await alice.slash(channel, "ask", question="What is the boiling point of mercury?")
    assert _shown(env) == [result.response.content]
    assert result.response.content.startswith(escape_markdown(NOT_FOUND))


async def test_streaming_edits_wait_the_interval_but_the_final_reply_does_not(world) -> None:
    """The passage goes out at once; the next edit waits STREAM_EDIT_SECONDS, so an answer
    typed out meanwhile is not edited in letter by letter, and the reply is not held back.

    SimCord's clock is virtual: time passes only when a test advances it, so here the
    30 s interval never ends and every letter falls within the pause after the passage.
    Were the reply to wait out that pause, it would never come."""
    env, _, channel, alice = world
    env.bot.settings = env.bot.settings.model_copy(update={"stream_edit_seconds": 30})
    env.bot.engine.generator = TypedAnswer("Mara Quist", pause=0.02)
    result = await alice.slash(channel, "ask", question=QUESTION)
    checking, final = _shown(env)
    assert checking.startswith(CHECKING) and "▌" not in checking
    assert final == result.response.content and final.startswith("Mara Quist\n\n> ")


async def test_a_private_answer_is_seen_only_by_the_asker(world) -> None:
    env, _, channel, alice = world
    result = await alice.slash(channel, "ask", question=QUESTION, private=True)
    callbacks = [e.json for e in env.http_requests if e.path.endswith("/callback")]
    assert callbacks[0] == {"type": 5, "data": {"flags": 64}}  # deferred privately, at once
    assert result.ephemeral and result.response.ephemeral
    assert result.response.content.startswith("Mara Quist") and "\n> " in result.response.content
    assert channel.last_message is None, "nothing was posted in the channel for everyone"


async def test_a_long_private_answer_sends_its_further_messages_privately(world) -> None:
    env, _, channel, alice = world
    long_answer = "Mara Quist " + "leads the council in Glenfield and " * 60 + "more."
    env.bot.engine.generator = ScriptedGenerator(long_answer)
    env.bot.engine.policy = replace(TRUSTING, min_answer_support=0.0)
    result = await alice.slash(channel, "ask", question=QUESTION, private=True)
    assert result.followups, "the reply needed more than one message"
    assert all(m.ephemeral for m in [result.response, *result.followups])
    assert all(len(m.content) <= 2000 for m in [result.response, *result.followups])


async def test_a_quote_links_its_article_and_shows_its_date(world, corpus: Path) -> None:
    env, _, channel, alice = world
    article = TOWN_ARTICLES["glenfield_bridge.txt"]
    (corpus / "glenfield_bridge.txt").unlink()
    (corpus / "glenfield_bridge.md").write_text(
        "---\ntitle: Glenfield backs riverside walkway\nurl: https://town.example.org/bridge\n"
        f"date: 2025-06-12\n---\n{article.split(chr(10), 2)[2]}"
    )
    env.bot.library.reload()
    text = (await alice.slash(channel, "ask", question=QUESTION)).response.content
    assert (
        "— [Glenfield backs riverside walkway](<https://town.example.org/bridge>) · 12 Jun 2025"
        in text
    )
    assert "glenfield_bridge" not in text, "no file path is shown to members"


async def test_files_published_on_a_site_link_to_it(world) -> None:
    env, _, channel, alice = world
    env.bot.settings = env.bot.settings.model_copy(
        update={"source_base_url": "https://town.example.org/articles/"}
    )
    text = (await alice.slash(channel, "ask", question=QUESTION)).response.content
    link = "— [Glenfield backs riverside walkway](<https://town.example.org/articles/glenfield_bridge.txt>)"
    assert link in text


async def test_every_message_disables_mentions(world) -> None:
    env, _, channel, alice = world
    await alice.slash(channel, "ask", question=QUESTION)
    sent = [j for j in _posted_json(env) if "content" in j]
    assert sent and all(j.get("allowed_mentions") == {"parse": []} for j in sent)


async def test_mentioning_the_bot_gets_a_reply_with_quotes(world) -> None:
    env, _, channel, alice = world
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    reply = channel.last_message
    assert reply.author.id == env.bot.user.id
    assert "Mara Quist" in reply.content and "> " in reply.content


async def test_mention_without_a_question_explains_how_to_ask(world) -> None:
    env, _, channel, alice = world
    await alice.send(channel, f"{env.bot.user.mention}")
    assert "Ask me a question" in channel.last_message.content


async def _allow_reload(env, guild, who) -> None:
    """A server admin shows /reload to someone in Integrations settings (the UI gate)."""
    commands = await env.bot.tree.fetch_commands()
    reload_command = next(c for c in commands if c.name == "reload")
    guild.set_command_permissions(reload_command, {who: True})


async def test_reload_refuses_members_without_permission(world, corpus: Path) -> None:
    env, guild, channel, alice = world
    await _allow_reload(env, guild, alice)  # visible to alice, so the command itself must refuse
    (corpus / "new.txt").write_text("Budget approved\n\nThe council approved the budget today.\n")
    result = await alice.slash(channel, "reload")
    assert result.ephemeral and "Only moderators" in result.response.content
    with IndexStore(env.bot.settings.index_dir) as store:
        assert store.article("new.txt") is None


def moderator(env, guild):
    """A member of `guild` holding Manage Server, which makes them a moderator of the bot."""
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(env.create_user("mod"), roles=[mods])


async def test_reload_by_manage_server_member_syncs_and_reports(world, corpus: Path) -> None:
    env, guild, channel, _ = world
    mod = moderator(env, guild)
    (corpus / "new.txt").write_text("Budget approved\n\nThe council approved the budget today.\n")
    (corpus / "broken.txt").write_bytes(b"\x00\x01")
    result = await mod.slash(channel, "reload")
    text = result.response.content
    assert "1 added, 0 updated, 0 removed, 4 unchanged, 1 skipped" in text
    assert "broken.txt" in text and "binary" in text
    status = await mod.slash(channel, "status")
    assert "**Articles:** 5" in status.response.content
    assert result.ephemeral and status.ephemeral, "shown to the moderator who ran them"
    assert channel.last_message is None


async def test_reload_from_another_folder_is_refused_in_discord_unless_forced(
    world, tmp_path: Path
) -> None:
    env, guild, channel, _ = world
    mod = moderator(env, guild)
    other = tmp_path / "other"
    other.mkdir()
    (other / "new.txt").write_text("Budget approved\n\nThe council approved the budget today.\n")
    library = env.bot.library  # the corpus folder is the library's setting
    library.settings = library.settings.model_copy(update={"corpus_dir": other})
    refused = (await mod.slash(channel, "reload")).response.content
    assert "The reload did not run" in refused and "force:True" in refused
    assert str(other.resolve()) in refused
    with IndexStore(env.bot.settings.index_dir) as store:
        assert store.article_count() == 4
    forced = (await mod.slash(channel, "reload", force=True)).response.content
    assert "1 added, 0 updated, 4 removed" in forced
    assert "added: new.txt" in forced and "glenfield" in forced


async def test_reload_by_configured_moderator_role(world) -> None:
    env, guild, channel, _ = world
    role = guild.create_role("Curators")
    env.bot.settings = env.bot.settings.model_copy(update={"moderator_role_ids": [role.id]})
    curator = guild.add_member(env.create_user("curator"), roles=[role])
    await _allow_reload(env, guild, role)
    result = await curator.slash(channel, "reload")
    assert "0 added, 0 updated, 0 removed, 4 unchanged" in result.response.content


async def test_second_reload_at_the_same_time_is_refused(world) -> None:
    env, guild, channel, _ = world
    mod = moderator(env, guild)
    await env.bot.reload_lock.acquire()  # as if a reload were running
    try:
        result = await mod.slash(channel, "reload")
    finally:
        env.bot.reload_lock.release()
    assert result.ephemeral and "already running" in result.response.content


async def test_cooldown_and_full_queue_are_told_only_to_the_asker_at_once(world) -> None:
    env, guild, channel, alice = world
    env.bot.queue.cooldown_seconds = 60
    await alice.slash(channel, "ask", question=QUESTION)
    again = await alice.slash(channel, "ask", question=QUESTION)
    assert "Please wait" in again.response.content
    assert again.ephemeral and not again.deferred  # no public "thinking…" first
    env.bot.queue.max_waiting = 0
    bob = guild.add_member(env.create_user("bob"))
    busy = await bob.slash(channel, "ask", question=QUESTION)
    assert "a lot of questions" in busy.response.content and busy.ephemeral


@pytest.mark.parametrize(
    ("question", "told"),
    [("  ?? ", "Ask me a question"), ("Why? " * 300, "1,499 characters long")],
)
async def test_a_question_to_fix_is_told_only_to_the_asker(world, question, told) -> None:
    env, _, channel, alice = world
    result = await alice.slash(channel, "ask", question=question)
    assert told in result.response.content
    assert result.ephemeral and not result.deferred
    assert env.bot.queue.refusal(alice.id) is None, "nothing was queued, no cooldown started"


async def test_a_refusal_after_a_public_defer_is_moved_out_of_sight(world) -> None:
    """Between the check and the queue another question may fill it: the public
    "thinking…" is deleted and the refusal is sent to the asker alone."""
    env, _, channel, alice = world
    queue = env.bot.queue
    checks = iter([None])  # the check before deferring lets it pass; the queue's own refuses
    queue.refusal = lambda user_id, group=None: next(
        checks, type(queue).refusal(queue, user_id, group)
    )
    queue.max_waiting = 0
    result = await alice.slash(channel, "ask", question=QUESTION)
    assert result.response is None, "the public reply was deleted"
    [told] = result.followups
    assert told.ephemeral and "a lot of questions" in told.content


async def test_a_mention_to_fix_gets_a_short_reply_in_place(world) -> None:
    env, _, channel, alice = world
    env.bot.queue.cooldown_seconds = 60
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    assert channel.last_message.content.startswith("Please wait")  # Discord has no private reply


async def test_mentions_within_the_cooldown_open_no_extra_threads(world) -> None:
    env, _, channel, alice = world
    env.bot.settings = env.bot.settings.model_copy(update={"reply_in_thread": True})
    env.bot.queue.cooldown_seconds = 60
    for _ in range(6):
        await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    assert len(channel.threads) == 1, "one question answered, in one thread"
    told = [m.content for m in channel.history() if "Please wait" in m.content]
    assert len(told) == 5, told  # each refused mention is told so, in the channel


@pytest.mark.parametrize(
    "typed",
    [
        "Who le\u200bads the coun\u200dcil in Glen\u200cfield\u2060?",  # zero-width inside words
        "Who leads the council in \u202bGlenfield\u202c?",  # a right-to-left embedding
        "Who leads the council in Glenfield?\u200f\ufeff",  # marks a paste brings along
    ],
)
async def test_invisible_characters_inside_words_do_not_split_them(world, typed: str) -> None:
    """They used to become spaces ("Glen field"), so the words were no longer found;
    the engine deletes them itself (retrieval/confusables.py), as Discord now does."""
    env, _, channel, alice = world
    real_ask, asked = env.bot.engine.ask, []

    def recording(question, on_text=None, on_passage=None):
        asked.append(question)
        return real_ask(question, on_text, on_passage)

    env.bot.engine.ask = recording
    result = await alice.slash(channel, "ask", question=typed)
    assert asked == [QUESTION]
    assert "Mara Quist" in result.response.content


async def test_a_failing_engine_gets_a_polite_reply_and_the_bot_goes_on(world) -> None:
    env, _, channel, alice = world
    real_ask = env.bot.engine.ask

    def broken(question, on_text=None, on_passage=None):
        raise RuntimeError("disk on fire")

    env.bot.engine.ask = broken
    failed = await alice.slash(channel, "ask", question=QUESTION)
    assert failed.response.content.startswith("Sorry, something went wrong")
    env.bot.engine.ask = real_ask
    works = await alice.slash(channel, "ask", question=QUESTION)
    assert "Mara Quist" in works.response.content


async def test_a_failing_command_gets_the_one_apology_privately_and_a_logged_traceback(
    world, caplog
) -> None:
    env, _, channel, alice = world

    def broken() -> None:
        raise RuntimeError("disk on fire")

    env.bot.library.status = broken
    with caplog.at_level(logging.ERROR, logger="bot.discord"):
        result = await alice.slash(channel, "status")
    assert result.ephemeral and result.response.content == APOLOGY
    [logged] = [r for r in caplog.records if r.name == "bot.discord"]
    assert "/status" in logged.getMessage() and "disk on fire" in str(logged.exc_info[1])


async def test_an_error_after_a_public_defer_is_told_only_to_the_member(world, monkeypatch) -> None:
    """The first follow-up would take a public deferral's place, and be public too."""
    env, _, channel, alice = world

    def broken(self) -> None:
        raise RuntimeError("editor broke")

    monkeypatch.setattr(replies.StreamingEditor, "start", broken)
    result = await alice.slash(channel, "ask", question=QUESTION)
    assert result.response is None, "the public reply was deleted"
    [told] = result.followups
    assert told.ephemeral and told.content == APOLOGY
    assert channel.last_message is None


async def test_status_shows_index_model_and_queue(world) -> None:
    _, _, channel, alice = world
    result = await alice.slash(channel, "status")
    text = result.response.content
    assert result.ephemeral and result.response.ephemeral
    assert "**Articles:** 4" in text and "**Answer model:** scripted" in text
    assert "**Questions in line:** 0" in text


async def test_status_is_read_off_the_event_loop_and_gives_up_in_time(
    library: Library, engine: Engine
) -> None:
    """While a search holds the index, the loop keeps serving others and status says so."""
    holding, release = threading.Event(), threading.Event()

    def search_in_progress() -> None:
        with engine.store.snapshot():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=search_in_progress)
    holder.start()
    holding.wait(10)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    beating = asyncio.create_task(heartbeat())
    try:
        busy = await read_status(library, 1.0)
    finally:
        beating.cancel()
        release.set()
        holder.join()
    assert busy is None and ticks >= 10, "gave up after 1 s; the loop ran meanwhile"
    info = await read_status(library, 10.0)
    assert info is not None and info.articles == 4


async def test_questions_are_answered_while_a_reload_runs(
    engine: Engine, library: Library, corpus: Path
) -> None:
    for n in range(30):
        (corpus / f"extra-{n}.txt").write_text(
            f"Story {n}\n\n" + f"The committee met on day {n} to discuss the harbour budget. " * 20
        )
    queue = AnswerQueue(engine.ask, max_waiting=50, cooldown_seconds=0)
    reload = asyncio.create_task(asyncio.to_thread(library.reload))
    answers = await asyncio.gather(*(queue.submit(user, QUESTION) for user in range(8)))
    report = await reload
    await queue.stop()
    assert len(report.added) == 30
    assert all(not a.abstained and "Mara Quist" in a.quotes[0].text for a in answers)


async def test_allowed_channels_limit_where_the_bot_answers(world) -> None:
    env, guild, general, alice = world
    elsewhere = guild.create_text_channel("off-topic")
    env.bot.settings = env.bot.settings.model_copy(
        update={"allowed_channel_ids": [general.id], "reply_in_thread": True}
    )
    told = await alice.slash(elsewhere, "ask", question=QUESTION)
    assert told.ephemeral and not told.deferred
    assert told.response.content == f"I answer questions in <#{general.id}>; please ask there."
    await alice.send(elsewhere, f"{env.bot.user.mention} {QUESTION}")
    assert elsewhere.last_message.author.id == alice.id and not elsewhere.threads  # ignored
    await alice.send(general, f"{env.bot.user.mention} {QUESTION}")
    [thread] = general.threads
    assert "Mara Quist" in thread.last_message.content
    env.bot.queue.cooldown_seconds = 0
    await alice.send(thread, f"{env.bot.user.mention} {QUESTION}")  # a thread of an allowed one
    assert thread.last_message.author.id == env.bot.user.id
    env.bot.settings = env.bot.settings.model_copy(update={"allowed_channel_ids": []})
    anywhere = await alice.slash(elsewhere, "ask", question=QUESTION)
    assert "Mara Quist" in anywhere.response.content and not anywhere.ephemeral


async def test_help_lists_commands_and_examples_from_these_articles(world) -> None:
    _, _, channel, alice = world
    result = await alice.slash(channel, "help")
    text = result.response.content
    assert result.ephemeral and len(text) <= 2000
    members, moderators = text.split("**For moderators**")
    assert "`/ask question [private]` — Ask a question" in members
    assert "`/status` —" in members and "`/help` —" in members
    assert "`/reload [force]` — Re-sync the articles folder" in moderators
    assert "`/feedback" in moderators, "commands added later are listed from the tree"
    assert "/reload" not in members and "/ask" not in moderators
    assert "“Brookvale library reopens”" in text and "dinner" not in text


async def test_a_bare_mention_suggests_a_question_about_these_articles(world) -> None:
    env, _, channel, alice = world
    await alice.send(channel, f"{env.bot.user.mention}  ?")
    assert channel.last_message.content == (
        "Ask me a question about the articles, for example: "
        "*What do the articles say about “Brookvale library reopens”?*"
    )


async def test_the_suggestion_follows_the_problem_not_the_wording(world, monkeypatch) -> None:
    """Rewording the reply to an empty question still brings an example with it."""
    env, _, channel, alice = world
    monkeypatch.setattr(replies, "HOW_TO_ASK", "Try asking about the articles.")
    result = await alice.slash(channel, "ask", question=" ?? ")
    assert result.response.content.startswith("Try asking about the articles, for example: *")
