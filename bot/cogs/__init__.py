"""Discord cogs, one per concern: asking (`ask`) and moderation (`admin`)."""
