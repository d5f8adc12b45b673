"""The article collection: sync, add, remove, restore, feeds, fetching, and the
`Library` that holds them."""
