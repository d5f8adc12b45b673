"""What the cogs need from the bot that loads them, as a protocol.

The bot (`AnswerBot`) imports the cogs; were the cogs to import its module back, even for
type hints only, the two would form an import circle. They name `CommunityBot` instead:
exactly the attributes and methods the cogs use, all of which `AnswerBot` has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import discord
    from discord import app_commands

    from bot.answering.conversation import ConversationMemory
    from bot.communities import Communities, Community
    from bot.frontends.discord.answer_queue import AnswerQueue
    from bot.settings import Settings


@runtime_checkable
class CommunityBot(Protocol):
    """The Discord client as the cogs see it: the communities it serves and what they share."""

    settings: Settings
    communities: Communities  # each server's articles, engine, feedback and locks
    queue: AnswerQueue  # the one answer model's line, shared by every server
    conversations: ConversationMemory  # recent answers, for follow-ups

    @property
    def user(self) -> discord.ClientUser | None:
        """The bot's own account, once logged in."""

    @property
    def tree(self) -> app_commands.CommandTree[Any]:
        """The slash commands, for `/help`."""

    def community(self, guild_id: int | None) -> Community:
        """The articles a command, question or click from `guild_id` acts on."""

    def articles_changed(self, community: Community) -> None:
        """Note a change of `community`'s articles and ask its open questions again."""

    def serves(self, guild_id: int | None) -> bool:
        """Whether the bot answers in `guild_id`."""

    def joined_guild_ids(self) -> frozenset[int]:
        """The ids of the servers the bot is in."""

    def get_partial_messageable(
        self, id: int, *, guild_id: int | None = None
    ) -> discord.PartialMessageable:
        """A channel to send to by its id, without fetching it."""

    def remove_dynamic_items(self, *items: type[discord.ui.DynamicItem[Any]]) -> None:
        """Stop routing clicks on these persistent buttons."""
