"""Negatives mined from the model's own mistakes: sample answers from the base model (generation), keep
each question's progress as it goes (journal), judge them against the gold and keep the wrong ones
(mine), and `likra mine` (command). `likra verify --generate` samples its candidates the same way."""
