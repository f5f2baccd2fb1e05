"""Sequence-level knowledge distillation: a teacher's translations of a corpus in resumable
shards (`shards`) and the whole teacher → student chain (`distill`)."""
