"""Articles to cleaned text to chunks to embeddings to Chroma (and, later, search)."""
