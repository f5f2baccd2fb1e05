"""One way to translate, n-best-translate and score lists of strings, on any back end."""

from keras_s2s.driver.backends import (
    Backend,
    BackendError,
    SavedModelBackend,
    ServerBackend,
    TranslatorBackend,
)
from keras_s2s.driver.driver import Driver, LongInput, OnLongInput, in_length_order
from keras_s2s.driver.hypothesis import Alignment, Hypothesis
from keras_s2s.driver.request import SampleOptions, SearchOptions

__all__ = ["Alignment", "Backend", "BackendError", "Driver", "Hypothesis", "LongInput",
           "OnLongInput", "SampleOptions", "SavedModelBackend", "SearchOptions",
           "ServerBackend", "TranslatorBackend", "in_length_order"]
