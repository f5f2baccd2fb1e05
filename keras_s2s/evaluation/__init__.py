"""Evaluation: metrics on strings (`metrics`), and a run or an export on a test set (`evaluate`)."""
