"""Benchmarks printing JSON figures: training, decoding, TFLite, the development server."""
