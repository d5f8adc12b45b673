"""Answering a question: search, evidence, the model's reply, the judge, the confidence,
the quotes; follow-ups."""
