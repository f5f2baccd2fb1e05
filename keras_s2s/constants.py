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
BEST_FILE = "best.json"  # the best epoch's metric and value, and why training stopped
LOG_DIR = "logs"

# Keras model inputs.
SOURCE = "source"
TARGET_IN = "target_in"

# SavedModel signatures (the served API) ...
SERVING_DEFAULT = "serving_default"  # the same function as `translate`
SIG_TRANSLATE = "translate"  # text → translation, log_prob (the export's configured beam)
SIG_TRANSLATE_GREEDY = "translate_greedy"  # text → translation, log_prob
SIG_TRANSLATE_NBEST = "translate_nbest"  # text, beam_size, n_best → translations, scores, …
SIG_SCORE = "score"  # source, target → log_prob, num_tokens
SIG_ALIGN = "align"  # text → translation, source/target pieces, attention (reading order)
# text, prefix and every search control → what translate_nbest returns
SIG_TRANSLATE_CONTROLLED = "translate_controlled"
# text, prefix, num_samples, temperature, top_k, top_p, seed → sampled translations, …
SIG_TRANSLATE_SAMPLE = "translate_sample"
# ... their input tensor names ...
INPUT_TEXT = "text"
INPUT_BEAM_SIZE = "beam_size"
INPUT_N_BEST = "n_best"
INPUT_SOURCE = "source"
INPUT_TARGET = "target"
INPUT_PREFIX = "prefix"  # [b] forced start of each output ("" = none)
INPUT_LENGTH_PENALTY = "length_penalty"  # [] GNMT alpha; < 0: the export's own
INPUT_MAX_LEN_A = "max_len_a"  # [] output limit a * source length + b; < 0: the export's own
INPUT_MAX_LEN_B = "max_len_b"
INPUT_COVERAGE_PENALTY = "coverage_penalty"  # [] GNMT beta (attention models); 0 = off
INPUT_NUM_SAMPLES = "num_samples"
INPUT_TEMPERATURE = "temperature"
INPUT_TOP_K = "top_k"  # 0 = all tokens
INPUT_TOP_P = "top_p"  # 1 = all tokens
INPUT_SEED = "seed"  # int64
# ... and their output names.
OUTPUT_TRANSLATION = "translation"
OUTPUT_LOG_PROB = "log_prob"
OUTPUT_TRANSLATIONS = "translations"
OUTPUT_SCORES = "scores"
OUTPUT_LOG_PROBS = "log_probs"
OUTPUT_NUM_TOKENS = "num_tokens"
OUTPUT_TOKENS = "tokens"  # [b, n, L] the output's pieces, </s> included, then ""
OUTPUT_TOKEN_LOG_PROBS = "token_log_probs"  # [b, n, L] each output token's log-probability
OUTPUT_ALIGNMENTS = "alignments"  # per output token, the source position attended to most
OUTPUT_SOURCE_PIECES = "source_pieces"
OUTPUT_TARGET_PIECES = "target_pieces"
OUTPUT_ATTENTION = "attention"
# Every signature also says how long each source was and how much of it the model read (a
# source longer than decode.max_src_len tokens is cut: tokens_read < tokens).
OUTPUT_SOURCE_TOKENS = "source_tokens"
OUTPUT_SOURCE_TOKENS_READ = "source_tokens_read"

# Post-training quantizations of `export-tflite` (dynamic-range int8 weights, float16).
QUANTIZATIONS = ("none", "dynamic", "float16")
