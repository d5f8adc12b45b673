"""👍 / 👎 under answers and /feedback, clicked and run through SimCord (a fake Discord).

The engine, index and feedback log are real; the model is scripted, as in test_client.
"""

from __future__ import annotations

import discord
import pytest

from bot.answering.outcomes import Decline
from bot.feedback.log import FeedbackLog
from bot.frontends.discord.client import AnswerBot
from tests.bot.frontends.discord import test_client as shared
from tests.bot.frontends.discord.cogs.test_followups import follow_up_button
from tests.bot.frontends.discord.test_client import QUESTION, moderator

# test_client's SimCord world, with its bot over the town index
corpus, settings, engine, library = shared.corpus, shared.settings, shared.engine, shared.library
simcord_bot, world = shared.simcord_bot, shared.world

pytestmark = pytest.mark.slow
UNANSWERABLE = "What is the boiling point of mercury?"


def _vote_ids(message) -> dict[str, str]:  # a SimCord message
    """The vote buttons on a message: emoji name → custom id."""
    rows = [r if isinstance(r, dict) else r.to_dict() for r in message.components]
    buttons = [c for row in rows for c in row.get("components", [row])]
    return {
        b["emoji"]["name"]: b["custom_id"]
        for b in buttons
        if b.get("type") == 2 and b["custom_id"].startswith("feedback:")
    }


async def test_an_answer_carries_vote_buttons_and_a_click_is_told_only_to_the_voter(world) -> None:
    env, _, channel, alice = world
    answer = (await alice.slash(channel, "ask", question=QUESTION)).response
    buttons = _vote_ids(answer)
    assert set(buttons) == {"👍", "👎"} and buttons["👎"].startswith("feedback:down:")
    click = await alice.click(answer, custom_id=buttons["👎"])
    assert click.ephemeral and "👎 noted" in click.response.content
    [wrong] = env.bot.feedback.voted_down()
    assert wrong.question == QUESTION and wrong.downs == 1
    assert wrong.quotes[0].article_id == "glenfield_bridge.txt"
    assert "Mara Quist" in wrong.quotes[0].text and wrong.quotes[0].end > wrong.quotes[0].start


async def test_a_vote_can_be_changed_and_each_member_has_one(world) -> None:
    env, guild, channel, alice = world
    answer = (await alice.slash(channel, "ask", question=QUESTION)).response
    buttons = _vote_ids(answer)
    await alice.click(answer, custom_id=buttons["👎"])
    changed = await alice.click(answer, custom_id=buttons["👍"])
    assert changed.ephemeral and "Changed your vote to 👍" in changed.response.content
    again = await alice.click(answer, custom_id=buttons["👍"])
    assert "already voted 👍" in again.response.content
    bob = guild.add_member(env.create_user("bob"))
    await bob.click(answer, custom_id=buttons["👎"])
    summary = env.bot.feedback.summary(guild.id, {channel.id})
    assert (summary.ups, summary.downs, summary.answers) == (1, 1, 1)


async def test_a_mention_reply_carries_the_buttons_on_its_last_message(world) -> None:
    env, _, channel, alice = world
    await alice.send(channel, f"{env.bot.user.mention} {QUESTION}")
    reply = channel.last_message
    assert reply.author.id == env.bot.user.id and "Mara Quist" in reply.content
    buttons = _vote_ids(reply)
    click = await alice.click(reply, custom_id=buttons["👍"])
    assert "👍 noted" in click.response.content


async def test_buttons_still_work_after_a_restart(world, engine, library, settings) -> None:
    env, guild, channel, alice = world
    answer = (await alice.slash(channel, "ask", question=QUESTION)).response
    buttons = _vote_ids(answer)
    await alice.click(answer, custom_id=buttons["👎"])
    await env.restart_bot(
        AnswerBot.single(engine, library, settings)
    )  # a new process: no view in memory
    changed = await alice.click(answer, custom_id=buttons["👍"])
    assert "Changed your vote to 👍" in changed.response.content, "the same member, remembered"
    summary = FeedbackLog(settings.index_dir).summary(guild.id, {channel.id})
    assert (summary.ups, summary.downs) == (1, 0)


async def test_a_decline_is_logged_with_its_reason_and_has_no_vote_buttons(world) -> None:
    env, guild, channel, alice = world
    declined = (await alice.slash(channel, "ask", question=UNANSWERABLE)).response
    assert "couldn't find" in declined.content and _vote_ids(declined) == {}
    assert follow_up_button(declined) is not None, "its one button: tell me if answered"
    summary = env.bot.feedback.summary(guild.id, {channel.id})
    assert summary.declines == 1
    assert summary.frequent_declines[0].question == UNANSWERABLE
    assert summary.frequent_declines[0].decline is Decline.NOTHING_RELEVANT


async def test_feedback_is_refused_to_members_even_when_shown_to_them(world) -> None:
    env, guild, channel, alice = world
    commands = await env.bot.tree.fetch_commands()
    feedback = next(c for c in commands if c.name == "feedback")
    guild.set_command_permissions(feedback, {alice: True})  # visible, so the command must refuse
    await alice.slash(channel, "ask", question=UNANSWERABLE)
    refused = await alice.slash(channel, "feedback")
    assert refused.ephemeral and "Only moderators" in refused.response.content
    assert UNANSWERABLE not in refused.response.content


async def test_feedback_shows_moderators_the_wrong_answers_and_the_declines(world) -> None:
    env, guild, channel, alice = world
    answer = (await alice.slash(channel, "ask", question=QUESTION)).response
    await alice.click(answer, custom_id=_vote_ids(answer)["👎"])
    for _ in range(2):
        await alice.slash(channel, "ask", question=UNANSWERABLE)
    shown = await moderator(env, guild).slash(channel, "feedback")
    text = shown.response.content
    assert shown.ephemeral and len(text) <= 2000
    assert "👍 0 · 👎 1 · 3 questions · 2 declined" in text
    assert QUESTION in text and "Glenfield backs riverside walkway" in text
    assert f"2× {UNANSWERABLE} — nothing relevant in the articles" in text


async def test_an_unwritable_feedback_log_costs_the_buttons_not_the_answer(world, tmp_path) -> None:
    env, _, channel, alice = world
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log's folder should be")
    env.bot.feedback = FeedbackLog(blocked)
    answer = (await alice.slash(channel, "ask", question=QUESTION)).response
    assert answer.content.startswith("Mara Quist") and _vote_ids(answer) == {}


async def test_a_private_question_never_reaches_the_moderators_report(world) -> None:
    env, guild, channel, alice = world
    secret = "What is the boiling point of my neighbour's secret?"
    asked = await alice.slash(channel, "ask", question=secret, private=True)
    assert asked.ephemeral
    text = (await moderator(env, guild).slash(channel, "feedback")).response.content
    assert "1 questions · 1 declined" in text, "counted, as every question is"
    assert "secret" not in text


async def test_the_report_lists_only_questions_from_channels_the_moderator_can_read(world) -> None:
    env, guild, channel, alice = world
    mod = moderator(env, guild)
    hidden = guild.create_text_channel(
        "staff-only",
        overwrites={
            guild.default_role: discord.PermissionOverwrite(view_channel=False),
            alice: discord.PermissionOverwrite(view_channel=True),
        },
    )
    staff_question = "What is the melting point of the staff room fridge?"
    await alice.slash(hidden, "ask", question=staff_question)
    await alice.slash(channel, "ask", question=UNANSWERABLE)
    text = (await mod.slash(channel, "feedback")).response.content
    assert "2 questions · 2 declined" in text
    assert UNANSWERABLE in text and "staff room" not in text
