"""Training: losses, optimizers, schedules and `model.fit` with checkpoints (no decoding)."""
