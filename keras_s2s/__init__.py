"""keras_s2s: Sutskever et al. (2014) sequence-to-sequence learning on TensorFlow 2 + Keras 3."""

__version__ = "0.1.0"
