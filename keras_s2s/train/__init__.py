"""Training: losses, metrics and `model.fit` with checkpoints and logs (knows nothing of decoding)."""
