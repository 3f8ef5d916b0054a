"""The grounded interview: retrieval in the character's scope, generation, the grounding guard,
answers composed from cited memories, and in-character abstention."""
