"""Corpus, chunking, embeddings, the Chroma store and hybrid cross-lingual search."""
