"""Data layer: questions, the benchmark registry, training pairs. No torch here."""
