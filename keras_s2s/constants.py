"""Names shared by every layer of the package: reserved tokens, files, signatures."""

# Reserved tokens come first in every vocabulary, in this order, so their ids are fixed.
PAD = "<pad>"
UNK = "<unk>"
BOS = "<s>"
EOS = "</s>"
RESERVED_TOKENS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3

# Files inside a run directory (`--model-dir`).
CONFIG_FILE = "config.yaml"
DATA_REPORT_FILE = "data_report.json"
WEIGHTS_FILE = "model.weights.h5"
LOG_DIR = "logs"

# SavedModel signatures and their tensor names (inputs and dict outputs).
SERVING_DEFAULT = "serving_default"
SIG_TRANSLATE = "translate"
INPUT_TEXT = "text"
OUTPUT_TRANSLATION = "translation"
OUTPUT_LOG_PROB = "log_prob"

# Keras model inputs.
SOURCE = "source"
TARGET_IN = "target_in"
SIG_TRANSLATE_NBEST = "translate_nbest"
SIG_SCORE = "score"
SIG_TRANSLATE_GREEDY = "translate_greedy"
INPUT_BEAM_SIZE = "beam_size"
INPUT_N_BEST = "n_best"
INPUT_SOURCE = "source"
INPUT_TARGET = "target"
OUTPUT_TRANSLATIONS = "translations"
OUTPUT_SCORES = "scores"
OUTPUT_LOG_PROBS = "log_probs"
OUTPUT_NUM_TOKENS = "num_tokens"
