"""One way to translate, n-best-translate and score lists of strings, on any back end."""

from keras_s2s.driver.backends import (
    Backend,
    BackendError,
    SavedModelBackend,
    ServerBackend,
    TranslatorBackend,
)
from keras_s2s.driver.driver import (
    Alignment,
    Driver,
    Hypothesis,
    LongInput,
    OnLongInput,
    in_length_order,
)

__all__ = ["Alignment", "Backend", "BackendError", "Driver", "Hypothesis", "LongInput",
           "OnLongInput", "SavedModelBackend", "ServerBackend", "TranslatorBackend",
           "in_length_order"]
