"""Faithfulness evals: datasets in the shared JSONL schema and the metrics that score them."""
