"""Translator: `[batch]` strings in, `[batch]` strings out, entirely inside the TF graph."""

from __future__ import annotations

import tensorflow as tf

from keras_s2s.config import DecodeConfig
from keras_s2s.constants import (
    EOS,
    EOS_ID,
    INPUT_BEAM_SIZE,
    INPUT_N_BEST,
    INPUT_SOURCE,
    INPUT_TARGET,
    OUTPUT_ALIGNMENTS,
    OUTPUT_ATTENTION,
    OUTPUT_LOG_PROB,
    OUTPUT_LOG_PROBS,
    OUTPUT_NUM_TOKENS,
    OUTPUT_SCORES,
    OUTPUT_SOURCE_PIECES,
    OUTPUT_SOURCE_TOKENS,
    OUTPUT_SOURCE_TOKENS_READ,
    OUTPUT_TARGET_PIECES,
    OUTPUT_TOKEN_LOG_PROBS,
    OUTPUT_TOKENS,
    OUTPUT_TRANSLATION,
    OUTPUT_TRANSLATIONS,
    PAD_ID,
    SERVING_DEFAULT,
    SIG_ALIGN,
    SIG_SCORE,
    SIG_TRANSLATE,
    SIG_TRANSLATE_CONTROLLED,
    SIG_TRANSLATE_GREEDY,
    SIG_TRANSLATE_NBEST,
    SIG_TRANSLATE_SAMPLE,
)
from keras_s2s.data.tokenizer import Tokenizer, VocabTokenizer
from keras_s2s.decode.beam_search import beam_search
from keras_s2s.decode.controls import Controls
from keras_s2s.decode.greedy import greedy_search
from keras_s2s.decode.request_controls import TEXT, RequestControls
from keras_s2s.decode.scoring import (
    force_decode,
    in_reading_order,
    reading_positions,
    score_targets,
)
from keras_s2s.decode.step import EncodeFn, Hypotheses, StepFn, max_target_lengths


def add_eos(ids: tf.RaggedTensor) -> tf.RaggedTensor:
    """`[b, (len)]` → `[b, (len + 1)]` with `</s>` appended to every row."""
    eos = tf.fill([ids.nrows(), 1], tf.constant(EOS_ID, ids.dtype))
    return tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1)


class Translator(RequestControls, tf.Module):
    """Strings in, strings out: tokenize, reverse the source, search, detokenize, in-graph.

    It receives the model as `encode`/`step` callables (one model or an ensemble), so it
    never depends on how the model was built; `keras_s2s.export` writes it as a SavedModel
    whose signatures are its `tf.function`s.

    Args:
        src_tokenizer, tgt_tokenizer: in-graph tokenizers of the run.
        encode: `src_ids [b, S] → states`.
        step: `(tokens [b], states) → (log_probs [b, V], states)`.
        reverse_source: reverse the source tokens, as the model was trained.
        decode: beam size, length penalty, length limits and `replace_unk` (each output
            `<unk>` becomes the source word it attended to most: Luong et al. 2015b).
        trackables: objects whose variables the functions use (the Keras models), kept as
            attributes so `tf.saved_model.save` finds them.

    Raises:
        ValueError: `decode.replace_unk` without vocabulary (word, space, char) tokenizers.
    """

    def __init__(self, src_tokenizer: Tokenizer, tgt_tokenizer: Tokenizer, encode: EncodeFn,
                 step: StepFn, reverse_source: bool, decode: DecodeConfig,
                 trackables: tuple = ()):
        super().__init__(name="translator")
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.trackables = list(trackables)
        self._encode, self._step = encode, step
        self._reverse = reverse_source
        self._decode = decode
        if decode.replace_unk and not all(isinstance(tok, VocabTokenizer)
                                          for tok in (src_tokenizer, tgt_tokenizer)):
            raise ValueError("decode.replace_unk needs word, space or char tokenizers on both "
                             "sides; SentencePiece spells rare words in pieces instead.")
        # Saved with the export, so a loaded SavedModel says whether it replaces <unk>.
        self.replaces_unk = tf.Variable(decode.replace_unk, trainable=False, name="replace_unk")

    def source_ids(self, text: tf.Tensor) -> tf.Tensor:
        """`[b]` strings → `[b, S]` ids: tokens (cut to `max_src_len`, reversed) + `</s>`."""
        return self._source(text)[0]

    def _source(self, text: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """`source_ids`, and per sentence the tokens it has and the tokens the model reads
        (`{"source_tokens": [b], "source_tokens_read": [b]}` int32): a sentence longer than
        `decode.max_src_len` is cut, and these outputs say so to every caller."""
        tokens = self.src_tokenizer.tokenize(text)  # [b, (len)]
        ids = tokens[:, :self._decode.max_src_len]
        if self._reverse:
            ids = tf.reverse(ids, axis=[1])  # ragged: real tokens only, padding stays right
        lengths = {OUTPUT_SOURCE_TOKENS: tf.cast(tokens.row_lengths(), tf.int32),
                   OUTPUT_SOURCE_TOKENS_READ: tf.cast(ids.row_lengths(), tf.int32)}
        return add_eos(ids).to_tensor(default_value=PAD_ID), lengths

    def _source_words(self, text: tf.Tensor) -> tf.RaggedTensor | None:
        """`[b, (n)]` the source pieces the model reads, in reading order (for replace-unk)."""
        if not self._decode.replace_unk:
            return None
        return self.src_tokenizer.pieces(text)[:, :self._decode.max_src_len]

    def _detokenize(self, ids: tf.Tensor, positions: tf.Tensor | None,
                    words: tf.RaggedTensor | None) -> tf.Tensor:
        """`ids [B, L]` → `[B]` strings; with `words` (`[B, (n)]` source pieces) and their
        `positions [B, L]`, each `<unk>` becomes the source piece it is aligned to."""
        if words is None or positions is None:
            return self.tgt_tokenizer.detokenize(ids)
        table = tf.concat([words.to_tensor(""), tf.fill([tf.shape(ids)[0], 1], "")], axis=1)
        picked = tf.gather(table, tf.maximum(positions, 0), batch_dims=1)  # [B, L]; </s>: ""
        picked = tf.where((positions >= 0) & (picked != ""),
                          self.tgt_tokenizer.as_pieces(picked), "")
        return self.tgt_tokenizer.detokenize(ids, unk_words=picked)

    def _outputs(self, text: tf.Tensor, src_ids: tf.Tensor, hyps: Hypotheses,
                 tokens: bool = True) -> dict[str, tf.Tensor]:
        """A search's `Hypotheses` (`[b, n, L]`) → the `translate_nbest` outputs: texts, the
        alignments in reading order (-1 without attention; replace-unk uses them), scores,
        and with `tokens` the output pieces with their log-probs (a vocabulary lookup the
        1-best signatures skip)."""
        ids, fed = hyps.ids, hyps.alignments
        shape = tf.shape(ids)  # [b, n, L] -> [b * n, L]
        flat = tf.reshape(ids, [-1, shape[2]])
        positions = None
        if fed is not None:
            src_rows = tf.repeat(src_ids, shape[1], axis=0)  # [b * n, S]
            positions = reading_positions(tf.reshape(fed, tf.shape(flat)), src_rows, flat,
                                          self._reverse)
        words = self._source_words(text)
        if words is not None:  # each sentence's words for each of its n hypotheses
            words = tf.gather(words, tf.repeat(tf.range(shape[0]), shape[1]))
        texts = tf.reshape(self._detokenize(flat, positions, words), shape[:2])
        if positions is None:
            positions = tf.fill(tf.shape(flat), -1)
        out = {OUTPUT_TRANSLATIONS: texts, OUTPUT_SCORES: hyps.scores,
               OUTPUT_LOG_PROBS: hyps.log_probs, OUTPUT_ALIGNMENTS: tf.reshape(positions, shape)}
        if tokens:
            out[OUTPUT_TOKENS] = tf.where(ids != PAD_ID, self.tgt_tokenizer.id_to_piece(ids), "")
            out[OUTPUT_TOKEN_LOG_PROBS] = hyps.token_log_probs
        return out

    def encoder_states(self, text: tf.Tensor):
        """The encoder's final states of `[b]` strings (`(h_0, c_0, h_1, c_1, …)`, each
        `[b, H]`, for one model): the sentence representations of the paper's Figure 2."""
        return self._encode(self.source_ids(text))

    @property
    def step(self) -> StepFn:
        """The model's `(tokens [b], states) → (log_probs [b, V], states)` search step."""
        return self._step

    def _limits(self, src_ids: tf.Tensor, controls: Controls | None = None) -> tf.Tensor:
        """`[b]` output limits: the configured ones, or those of a request's `controls`."""
        controls = controls or Controls.of(self._decode)
        return max_target_lengths(src_ids, controls.max_len_a, controls.max_len_b)

    @property
    def decode_config(self) -> DecodeConfig:
        """The search settings this Translator was built with."""
        return self._decode

    def search(self, text, beam_size, n_best, prefix=None, controls: Controls | None = None,
               tokens: bool = True) -> dict[str, tf.Tensor]:
        """Beam search on `[b]` strings → the outputs of `translate_nbest`.

        The `tf.function`s below call it; called directly it runs eagerly (the benchmark's
        Python-loop baseline). `prefix` (`[b]` strings) forces each output's start;
        `controls` overrides the configured length penalty and limits; without `tokens`
        the output pieces and their log-probs are left out.
        """
        controls = controls or Controls.of(self._decode)
        src_ids, lengths = self._source(text)
        constrain, limits = self._prefix(prefix, src_ids, self._limits(src_ids, controls))
        hyps = beam_search(self._encode, self._step, src_ids, limits, beam_size, n_best,
                           controls.length_penalty, constrain=constrain,
                           coverage_penalty=controls.coverage_penalty)
        return {**self._outputs(text, src_ids, hyps, tokens), **lengths}

    def signatures(self) -> dict:
        """Signature name → `tf.function`: what a SavedModel export serves, and what the
        in-process back end of `keras_s2s.driver` calls. Every one also returns
        `source_tokens` and `source_tokens_read` (`[b]` int32)."""
        return {SERVING_DEFAULT: self.translate, SIG_TRANSLATE: self.translate,
                SIG_TRANSLATE_NBEST: self.translate_nbest, SIG_SCORE: self.score,
                SIG_TRANSLATE_GREEDY: self.translate_greedy, SIG_ALIGN: self.align,
                SIG_TRANSLATE_CONTROLLED: self.translate_controlled,
                SIG_TRANSLATE_SAMPLE: self.translate_sample}

    @tf.function(input_signature=[TEXT])
    def translate(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        """`text [b]` → `{"translation": [b] string, "log_prob": [b] float32}` (beam search
        with the configured beam size)."""
        out = self.search(text, self._decode.beam_size, 1, tokens=False)
        return {OUTPUT_TRANSLATION: out[OUTPUT_TRANSLATIONS][:, 0],
                OUTPUT_LOG_PROB: out[OUTPUT_LOG_PROBS][:, 0],
                **{key: out[key] for key in (OUTPUT_SOURCE_TOKENS, OUTPUT_SOURCE_TOKENS_READ)}}

    @tf.function(input_signature=[TEXT, tf.TensorSpec([], tf.int32, name=INPUT_BEAM_SIZE),
                                  tf.TensorSpec([], tf.int32, name=INPUT_N_BEST)])
    def translate_nbest(self, text, beam_size, n_best) -> dict[str, tf.Tensor]:
        """`text [b]`, scalar `beam_size`, `n_best` → `{"translations": [b, n] string,
        "scores": [b, n] (length-penalised), "log_probs": [b, n], "tokens": [b, n, L] string
        (the output's pieces, `</s>` included, then ""), "token_log_probs": [b, n, L]
        (each token's log-probability; they sum to `log_probs`; 0 after the end),
        "alignments": [b, n, L] int32}`, best first. An alignment is, per output token, the
        source position it attended to most in reading order (the source's `</s>`: its
        token count); -1 from the output's `</s>` on, and everywhere for a model without
        attention."""
        tf.debugging.assert_positive(beam_size, message="beam_size must be >= 1")
        tf.debugging.assert_positive(n_best, message="n_best must be >= 1")
        return self.search(text, beam_size, n_best)

    @tf.function(input_signature=[TEXT])
    def align(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        """What attention did for the configured search's translation of `text [b]`:
        `{"translation": [b], "source_pieces": [b, S] and "target_pieces": [b, T] strings
        (reading order, each ending with "</s>", then ""), "attention": [b, T, S] float32}`
        (row t: output token t's weights over the source pieces; zeros without attention)."""
        src_ids, lengths = self._source(text)
        hyps = beam_search(self._encode, self._step, src_ids, self._limits(src_ids),
                           self._decode.beam_size, 1, self._decode.length_penalty)
        words = self._outputs(text, src_ids, hyps, tokens=False)[OUTPUT_TRANSLATIONS]
        ids = hyps.ids[:, 0]  # [b, T]
        _, weights = force_decode(self._encode, self._step, src_ids, ids, with_weights=True)
        if weights is None:  # the paper's model: nothing to show
            weights = tf.zeros([tf.shape(ids)[0], tf.shape(ids)[1], tf.shape(src_ids)[1]])
        read = self.src_tokenizer.pieces(text)[:, :self._decode.max_src_len]  # reading order
        eos = tf.fill([tf.shape(text)[0], 1], EOS)
        source = tf.concat([read, eos], axis=1).to_tensor(default_value="")  # [b, S]
        target = tf.where(ids != PAD_ID, self.tgt_tokenizer.id_to_piece(ids), "")  # [b, T]
        return {OUTPUT_TRANSLATION: words[:, 0], OUTPUT_SOURCE_PIECES: source,
                OUTPUT_TARGET_PIECES: target,
                OUTPUT_ATTENTION: in_reading_order(weights, src_ids, self._reverse), **lengths}

    @tf.function(input_signature=[TEXT])
    def translate_greedy(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        """Greedy decoding: `text [b]` → `{"translation", "log_prob"}`."""
        src_ids, lengths = self._source(text)
        hyps = greedy_search(self._encode, self._step, src_ids, self._limits(src_ids))
        words = self._outputs(text, src_ids, hyps, tokens=False)[OUTPUT_TRANSLATIONS]
        return {OUTPUT_TRANSLATION: words[:, 0], OUTPUT_LOG_PROB: hyps.log_probs[:, 0],
                **lengths}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_SOURCE),
                                  tf.TensorSpec([None], tf.string, name=INPUT_TARGET)])
    def score(self, source: tf.Tensor, target: tf.Tensor) -> dict[str, tf.Tensor]:
        """`log p(target | source)` for `[b]` sentence pairs → `{"log_prob": [b] float32,
        "num_tokens": [b] int32}` (target tokens scored, `</s>` included: perplexity is
        `exp(-Σ log_prob / Σ num_tokens)`)."""
        src_ids, lengths = self._source(source)
        tgt_ids = add_eos(self.tgt_tokenizer.tokenize(target)).to_tensor(default_value=PAD_ID)
        log_prob = score_targets(self._encode, self._step, src_ids, tgt_ids)
        num_tokens = tf.reduce_sum(tf.cast(tgt_ids != PAD_ID, tf.int32), axis=1)
        return {OUTPUT_LOG_PROB: log_prob, OUTPUT_NUM_TOKENS: num_tokens, **lengths}
