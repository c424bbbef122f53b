"""Scoring: the engine, the score table and the decision rules."""
