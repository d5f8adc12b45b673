"""The Discord bot: the client, its cogs, the answer queue and Discord's text formatting."""
