"""Discord cogs, one per concern: asking (`ask`), moderation (`admin`) and the
article list (`catalog`)."""
