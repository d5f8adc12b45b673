"""Articles to cleaned text, sentences and chunks, their embeddings, the index, and search."""
