"""Data: built-in tasks, vocabularies, in-graph tokenizers and tf.data pipelines."""
