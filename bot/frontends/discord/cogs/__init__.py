"""Discord cogs, one per concern: asking (`ask`), moderation (`admin`), the article list
(`catalog`), adding (`adding`), feedback (`feedback`) and `/help`."""
