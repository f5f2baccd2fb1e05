"""Batched beam search in a `tf.while_loop`; beam size and n-best are call-time tensors."""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf

from keras_s2s.constants import BOS_ID, EOS_ID, PAD_ID
from keras_s2s.decode.step import (
    NEG_INF,
    ConstrainFn,
    EncodeFn,
    Hypotheses,
    StepFn,
    attended,
    ban_special,
    bind,
    step_weights,
)

# Per-token values carried beside each hypothesis, `{name: [.., k, L]}`: the log-prob of
# every token, and the source position it attended to most (0s for the paper's model).
Tracks = dict[str, tf.Tensor]


class BeamState(NamedTuple):
    """Everything the search loop carries. Sentences still searching are rows `a` of the
    `alive_*`/`finished_*` fields (b = batch, k = beam, L = longest allowed output); a done
    sentence leaves them for the `out_*` fields (row = its index in the batch)."""

    t: tf.Tensor  # [] int32, tokens decoded so far
    rows: tf.Tensor  # [a] int32, the batch index of each searching sentence
    max_lengths: tf.Tensor  # [a] int32, their length limits
    alive_seq: tf.Tensor  # [a, k, L] int32, <pad> after the current step
    alive_log_probs: tf.Tensor  # [a, k] float32, sum of token log-probs
    alive_states: Any  # nest of [a * k, ...], the decoder states of alive hypotheses
    # [a, k, L] each: "log_prob" float32, "align" int32; with a coverage penalty also
    # "coverage" [a, k, S] float32, the attention each source position received so far
    alive_tracks: Tracks
    finished_seq: tf.Tensor  # [a, k, L] int32, each ends with </s> (or at its limit)
    finished_scores: tf.Tensor  # [a, k] float32, length-penalised; NEG_INF if empty
    finished_log_probs: tf.Tensor  # [a, k] float32, raw sum of log-probs
    finished_tracks: Tracks  # [a, k, L] each
    out_seq: tf.Tensor  # [b, k, L] int32, the finished hypotheses of done sentences
    out_scores: tf.Tensor  # [b, k] float32
    out_log_probs: tf.Tensor  # [b, k] float32
    out_tracks: Tracks  # [b, k, L] each


def length_penalty(length: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
    """GNMT's `((5 + len) / 6) ** alpha`; `alpha = 0` (the paper) gives 1."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


def _tile_beams(tensor: tf.Tensor, beam: tf.Tensor) -> tf.Tensor:
    """`[b, ...]` → `[b * k, ...]`, each row repeated k times in a row."""
    return tf.repeat(tensor, beam, axis=0)


def _gather_beams(tensor: tf.Tensor, indices: tf.Tensor, batch: tf.Tensor,
                  beam_in: tf.Tensor) -> tf.Tensor:
    """Picks beams: `tensor [b * k_in, ...]` with `indices [b, k_out]` → `[b * k_out, ...]`."""
    flat = indices + beam_in * tf.expand_dims(tf.range(batch), 1)  # [b, k_out] -> rows of tensor
    return tf.gather(tensor, tf.reshape(flat, [-1]))


def _top(scores: tf.Tensor, k: tf.Tensor, *others):
    """The top `k` of `scores [b, n]` (ties: lowest index first) and the matching `others`
    (tensors `[b, n, ...]` or nests of them)."""
    values, indices = tf.math.top_k(scores, k=k)
    return (values,) + tuple(tf.nest.map_structure(
        lambda o: tf.gather(o, indices, batch_dims=1), other) for other in others)


def _top_k_rows(x: tf.Tensor, k: tf.Tensor, block: int = 64) -> tuple[tf.Tensor, tf.Tensor]:
    """`tf.math.top_k(x, k)` of `x [rows, V]`: the same values, indices and tie order (the
    lowest index first), faster for a small k over a large V. The best k entries lie in
    the k blocks of `block` columns with the best maxima, so only those are ranked."""
    vocab = x.shape[-1]
    if vocab is None or vocab < 8 * block:
        return tuple(tf.math.top_k(x, k))
    count = -(-vocab // block)  # blocks; the last one padded with -inf

    def blocked():
        padded = tf.pad(x, [[0, 0], [0, count * block - vocab]], constant_values=float("-inf"))
        blocks = tf.reshape(padded, [-1, count, block])  # [rows, count, block]
        _, chosen = tf.math.top_k(tf.reduce_max(blocks, axis=2), k)  # [rows, k] blocks
        chosen = tf.sort(chosen, axis=1)  # in column order, so ties keep the lowest index
        candidates = tf.reshape(tf.gather(blocks, chosen, batch_dims=1), [-1, k * block])
        values, at = tf.math.top_k(candidates, k)  # [rows, k]
        return values, tf.gather(chosen, at // block, batch_dims=1) * block + at % block
    return tf.cond(k <= count, blocked, lambda: tuple(tf.math.top_k(x, k)))


def _empty_tracks(batch, beam, limit) -> Tracks:
    return {"log_prob": tf.zeros([batch, beam, limit]),
            "align": tf.zeros([batch, beam, limit], tf.int32)}


def beam_search(encode: EncodeFn, step: StepFn, src_ids: tf.Tensor, max_lengths: tf.Tensor,
                beam_size: tf.Tensor | int, n_best: tf.Tensor | int,
                alpha: tf.Tensor | float = 0.0, buffer_len: int | None = None,
                constrain: ConstrainFn | None = None,
                coverage_penalty: tf.Tensor | float = 0.0) -> Hypotheses:
    """Finds the `n_best` most probable translations of each source sentence.

    A hypothesis that emits `</s>` leaves the beam for the finished set (the paper's rule);
    a sentence is done when it has `n_best` finished hypotheses that no alive one can still
    beat, or when it reaches its length limit (alive hypotheses then count as finished).

    Args:
        encode: `src_ids [b, S] → states` (any `tf.nest` structure, batch-major).
        step: `(tokens [b * k], states) → (log_probs [b * k, V], states)`.
        src_ids: `[b, S]` int32, right-padded.
        max_lengths: `[b]` int32, most target tokens per sentence (`</s>` included).
        beam_size: scalar int32 k ≥ 1.
        n_best: scalar int32, 1 ≤ n ≤ k.
        alpha: length-penalty exponent (0 = none).
        buffer_len: a fixed L ≥ every `max_lengths`; with a Python-int `beam_size` every loop
            carry then has a static shape (for TFLite). None: `L = max(max_lengths)`.
        constrain: `(t, rows [b * k], log_probs) → log_probs`, e.g. a forced target prefix.
        coverage_penalty: GNMT's β: a finished hypothesis scores `log_prob / lp(len) + β Σ_i
            log(min(attention received by source position i, 1))`. Models that attend only.

    Returns:
        The `n_best` `Hypotheses` of each sentence, best first by penalised score.
    """
    step = bind(step)  # the step's weights laid out once, before the loop
    beam = tf.convert_to_tensor(beam_size, tf.int32)
    n_best = tf.minimum(tf.convert_to_tensor(n_best, tf.int32), beam)
    alpha = tf.convert_to_tensor(alpha, tf.float32)
    # Static (TFLite): fixed shapes, every sentence stays in the loop. Otherwise a sentence
    # that is done leaves the loop, so its k rows cost nothing in later steps.
    static = buffer_len is not None and isinstance(beam_size, int)
    batch = src_ids.shape[0] if static and src_ids.shape[0] else tf.shape(src_ids)[0]
    limit = tf.reduce_max(max_lengths) if buffer_len is None else buffer_len
    states = tf.nest.map_structure(lambda s: _tile_beams(s, beam), encode(src_ids))
    aligned = attended(states) is not None
    first = tf.concat([[0.0], tf.fill([beam - 1], NEG_INF)], axis=0)  # one live start per sentence
    empty_seq = tf.fill([batch, beam, limit], PAD_ID)
    empty_scores = tf.fill([batch, beam], NEG_INF)
    empty_tracks = _empty_tracks(batch, beam, limit)
    beta = None
    if isinstance(coverage_penalty, (int, float)) and coverage_penalty == 0:
        pass  # off, known when tracing: nothing to carry
    elif step_weights(states) is None:  # a request's β > 0 for the paper's model
        tf.debugging.assert_less_equal(
            tf.cast(coverage_penalty, tf.float32), 0.0, message="coverage_penalty needs a "
            "model with attention; send 0 (or < 0 for the export's own) to this model")
    else:
        beta = tf.convert_to_tensor(coverage_penalty, tf.float32)
        padding = tf.cast(src_ids == PAD_ID, tf.float32)[:, None, :]  # counts as covered
        empty_tracks["coverage"] = tf.repeat(padding, beam, axis=1)  # [b, k, S]
    init = BeamState(
        t=tf.constant(0), rows=tf.range(batch), max_lengths=max_lengths, alive_seq=empty_seq,
        alive_log_probs=tf.tile(tf.expand_dims(first, 0), [batch, 1]), alive_states=states,
        alive_tracks=empty_tracks, finished_seq=empty_seq, finished_scores=empty_scores,
        finished_log_probs=empty_scores, finished_tracks=empty_tracks, out_seq=empty_seq,
        out_scores=empty_scores, out_log_probs=empty_scores, out_tracks=empty_tracks)

    def body(s: BeamState) -> tuple[BeamState]:
        new = _advance(s, step, beam, limit, (alpha, beta), constrain)
        if static:  # the carries keep the shapes they entered with (no dynamic tensors)
            tf.nest.map_structure(lambda n, o: n.set_shape(o.shape), new, s)
            return (new,)
        return (_retire(new, _done(new, n_best, alpha), beam),)

    def cond(s: BeamState) -> tf.Tensor:
        if static:
            return (s.t < limit) & ~tf.reduce_all(_done(s, n_best, alpha))
        return (s.t < limit) & (tf.size(s.rows) > 0)

    # Beam and length are data, not trace-time constants: let every dimension vary.
    invariants = tf.nest.map_structure(
        lambda x: x.shape if static else tf.TensorShape([None] * x.shape.rank), init)
    (final,) = tf.while_loop(cond, body, (init,), shape_invariants=(invariants,),
                             maximum_iterations=limit)
    if not static:
        final = _retire(final, tf.ones_like(final.rows, tf.bool), beam)
        final = final._replace(finished_seq=final.out_seq, finished_scores=final.out_scores,
                               finished_log_probs=final.out_log_probs,
                               finished_tracks=final.out_tracks)
    tracks = final.finished_tracks
    return Hypotheses(final.finished_seq[:, :n_best], final.finished_scores[:, :n_best],
                      final.finished_log_probs[:, :n_best], tracks["log_prob"][:, :n_best],
                      tracks["align"][:, :n_best] if aligned else None)


def _retire(s: BeamState, done: tf.Tensor, beam: tf.Tensor) -> BeamState:
    """Moves the sentences `done [a]` from the searching rows to the `out_*` results."""
    index = tf.expand_dims(tf.boolean_mask(s.rows, done), 1)  # [d, 1] batch positions

    def put(out, finished):
        return tf.nest.map_structure(lambda o, f: tf.tensor_scatter_nd_update(
            o, index, tf.boolean_mask(f, done)), out, finished)

    keep = ~done
    keep_beams = tf.repeat(keep, beam)  # [a * k], the states' rows

    def kept(x):
        return tf.nest.map_structure(lambda t: tf.boolean_mask(t, keep), x)
    return BeamState(
        t=s.t, rows=kept(s.rows), max_lengths=kept(s.max_lengths),
        alive_seq=kept(s.alive_seq), alive_log_probs=kept(s.alive_log_probs),
        alive_states=tf.nest.map_structure(lambda x: tf.boolean_mask(x, keep_beams),
                                           s.alive_states),
        alive_tracks=kept(s.alive_tracks), finished_seq=kept(s.finished_seq),
        finished_scores=kept(s.finished_scores), finished_log_probs=kept(s.finished_log_probs),
        finished_tracks=kept(s.finished_tracks), out_seq=put(s.out_seq, s.finished_seq),
        out_scores=put(s.out_scores, s.finished_scores),
        out_log_probs=put(s.out_log_probs, s.finished_log_probs),
        out_tracks=put(s.out_tracks, s.finished_tracks))


def _advance(s: BeamState, step: StepFn, beam, limit, penalties: tuple,
             constrain: ConstrainFn | None) -> BeamState:
    """One decoding step: expand every alive hypothesis, keep k alive, merge the finished.
    `penalties`: GNMT's α and β (None: no coverage penalty)."""
    alpha, beta = penalties
    batch = tf.shape(s.rows)[0]
    last = tf.gather(s.alive_seq, tf.maximum(s.t - 1, 0), axis=2)  # [b, k]
    tokens = tf.where(s.t == 0, BOS_ID, last)
    log_probs, states = step(tf.reshape(tokens, [-1]), s.alive_states)  # [b * k, V]
    if constrain is not None:
        log_probs = constrain(s.t, tf.repeat(s.rows, beam), log_probs)
    # 2k candidates per sentence leave k alive even if k of them end here. The best 2k of
    # a sentence's k * V continuations are among each beam's own best 2k, so the full
    # [b, k * V] sum is never formed (ties still go to the lowest beam, then token).
    vocab = log_probs.shape[-1] or tf.shape(log_probs)[-1]
    per_beam = tf.minimum(2 * beam, vocab)  # r
    beam_lp, beam_tok = _top_k_rows(ban_special(log_probs), per_beam)  # [b * k, r]
    total = tf.reshape(s.alive_log_probs, [-1, 1]) + beam_lp  # [b * k, r]
    cand_lp, cand_idx = tf.math.top_k(tf.reshape(total, [batch, beam * per_beam]), k=2 * beam)
    cand_beam = cand_idx // per_beam  # [b, 2k]
    cand_tok = tf.gather(tf.reshape(beam_tok, [batch, beam * per_beam]), cand_idx, batch_dims=1)
    position = tf.one_hot(s.t, limit, on_value=1, off_value=0, dtype=tf.int32)  # [L]
    cand_seq = tf.gather(s.alive_seq, cand_beam, batch_dims=1)  # [b, 2k, L]
    cand_seq += tf.expand_dims(cand_tok, 2) * position
    new = {"log_prob": tf.gather(tf.reshape(beam_lp, [batch, beam * per_beam]), cand_idx,
                                 batch_dims=1)}  # [b, 2k]: each candidate's last token
    where = attended(states)  # [b * k]: where each beam's step attended most
    if where is not None:
        new["align"] = tf.gather(tf.reshape(where, [batch, beam]), cand_beam, batch_dims=1)
    cand_tracks = {name: _write(tf.gather(s.alive_tracks[name], cand_beam, batch_dims=1),
                                new.get(name), position) for name in ("log_prob", "align")}
    if beta is not None:  # each candidate's parent's coverage, plus this step's weights
        weights = tf.reshape(step_weights(states), [batch, beam, -1])
        cand_tracks["coverage"] = tf.gather(s.alive_tracks["coverage"] + weights, cand_beam,
                                            batch_dims=1)
    at_limit = tf.expand_dims(s.t + 1 >= s.max_lengths, 1)  # [b, 1]
    ends = (cand_tok == EOS_ID) | at_limit  # [b, 2k]
    valid = cand_lp > NEG_INF / 2

    # Alive: the best k candidates that did not end.
    alive_lp, alive_seq, alive_beam, alive_tracks = _top(tf.where(ends, NEG_INF, cand_lp),
                                                         beam, cand_seq, cand_beam, cand_tracks)
    states = tf.nest.map_structure(lambda x: _gather_beams(x, alive_beam, batch, beam), states)

    # Finished: old finished and new ended candidates, best k by penalised score.
    new_scores = cand_lp / length_penalty(s.t + 1, alpha)
    if beta is not None:
        covered = tf.minimum(tf.maximum(cand_tracks["coverage"], 1e-10), 1.0)
        new_scores += beta * tf.reduce_sum(tf.math.log(covered), axis=-1)
    new_scores = tf.where(ends & valid, new_scores, NEG_INF)
    scores, seq, lps, tracks = _top(
        tf.concat([s.finished_scores, new_scores], axis=1), beam,
        tf.concat([s.finished_seq, cand_seq], axis=1),
        tf.concat([s.finished_log_probs, cand_lp], axis=1),
        tf.nest.map_structure(lambda f, c: tf.concat([f, c], axis=1), s.finished_tracks,
                              cand_tracks))
    return s._replace(t=s.t + 1, alive_seq=alive_seq, alive_log_probs=alive_lp,
                      alive_states=states, alive_tracks=alive_tracks, finished_seq=seq,
                      finished_scores=scores, finished_log_probs=lps, finished_tracks=tracks)


def _write(track: tf.Tensor, value: tf.Tensor | None, position: tf.Tensor) -> tf.Tensor:
    """`track [b, n, L]` with `value [b, n]` written at the step's one-hot `position [L]`
    (left as it is when there is no value)."""
    if value is None:
        return track
    return track + tf.expand_dims(value, 2) * tf.cast(position, track.dtype)


def _done(s: BeamState, n_best, alpha) -> tf.Tensor:
    """`[b]`: n-best finished, and no alive hypothesis can still beat the n-th of them."""
    nth = tf.gather(s.finished_scores, n_best - 1, axis=1)  # [b]
    best_alive = tf.reduce_max(s.alive_log_probs, axis=1)  # log-probs only fall from here
    # The most a hypothesis can gain from the length penalty is at the longest length.
    bound = best_alive / length_penalty(tf.cast(s.max_lengths, tf.float32), alpha)
    bound = tf.where(alpha > 0, bound, best_alive)
    return (s.t >= s.max_lengths) | ((nth > NEG_INF / 2) & (bound < nth))
