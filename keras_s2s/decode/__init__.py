"""Decoding over step callables (never imports the model): greedy search and the Translator."""
