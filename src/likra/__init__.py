"""likra: learn from negative examples; score answers by L+ - w*L-."""

__version__ = "0.1.0"
