"""/gaps run through SimCord (a fake Discord) on the real command tree, index and log.

The world is test_client's (town index, scripted model): a question no article touches
is declined as nothing relevant, as a real model would never be asked.
"""

from __future__ import annotations

import pytest

from tests.bot.frontends.discord import test_client as shared
from tests.bot.frontends.discord.test_client import moderator

corpus, settings, engine, library = shared.corpus, shared.settings, shared.engine, shared.library
simcord_bot, world = shared.simcord_bot, shared.world

pytestmark = pytest.mark.slow
MERCURY = "What is the boiling point of **mercury**?"


async def test_gaps_groups_rewordings_and_counts_members_for_moderators_only(world) -> None:
    env, guild, channel, alice = world
    bob = guild.add_member(env.create_user("bob"))
    await alice.slash(channel, "ask", question=MERCURY)
    await alice.slash(channel, "ask", question="mercury's boiling point?")
    await bob.slash(channel, "ask", question="what is the boiling point of mercury")
    await bob.slash(channel, "ask", question="Who fixes the <@&4242> streetlights?", private=True)
    commands = await env.bot.tree.fetch_commands()
    gaps = next(c for c in commands if c.name == "gaps")
    guild.set_command_permissions(gaps, {alice: True})  # visible, so the command must refuse
    refused = await alice.slash(channel, "gaps")
    assert refused.ephemeral and "Only moderators" in refused.response.content
    shown = await moderator(env, guild).slash(channel, "gaps", days=7)
    text = shown.response.content
    assert shown.ephemeral and "last 7 days" in text
    [line] = [line for line in text.splitlines() if line.startswith("• ")]
    assert line.startswith("• 2 members (3×) · ") and "mercury" in line
    assert "**" not in line, "a member's markdown is escaped"
    assert "streetlights" not in text, "a private question is never listed"
