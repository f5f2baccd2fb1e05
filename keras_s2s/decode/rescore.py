"""N-best rescoring (the paper's §3.3): Moses n-best lists read and re-ranked."""

from __future__ import annotations

from typing import Sequence

from keras_s2s.data.corpus import iter_lines


def read_nbest(path: str) -> list[list[tuple[str, float]]]:
    """Moses n-best lines `i ||| hypothesis ||| … ||| score` → per sentence `(hypothesis,
    score)`: the score is the last field that is a number, so a trailing alignment field
    (`translate --n-best` of attention models) is skipped."""
    lists: list[list[tuple[str, float]]] = []
    for number, line in enumerate(iter_lines(path), start=1):
        fields = [f.strip() for f in line.split("|||")]
        try:
            numbers = [float(f) for f in fields[2:] if _is_number(f)]
            index, hyp, score = int(fields[0]), fields[1], numbers[-1]
        except (ValueError, IndexError):
            raise ValueError(f"{path}, line {number}: expected 'i ||| hypothesis ||| score'; "
                             f"received: {line!r}.") from None
        while len(lists) <= index:
            lists.append([])
        lists[index].append((hyp, score))
    return lists


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def rescore(candidates: Sequence[Sequence[tuple[str, float]]],
            model_scores: Sequence[Sequence[float]], weight: float = 0.5
            ) -> list[list[tuple[str, float]]]:
    """Re-ranks n-best lists by `weight * external + (1 - weight) * model` score.

    The paper averaged its LSTM's log-probability with the SMT system's score evenly
    (`weight = 0.5`).

    Args:
        candidates: per sentence, `(hypothesis, external score)` pairs.
        model_scores: per sentence, the model's `log p(hypothesis | source)` of each pair.
        weight: the external score's share.

    Returns:
        Per sentence, `(hypothesis, combined score)` pairs, best first.
    """
    if len(candidates) != len(model_scores):
        raise ValueError(f"Got {len(candidates)} n-best lists but {len(model_scores)} score "
                         "lists; they must be aligned.")
    ranked = []
    for sentence, scores in zip(candidates, model_scores):
        combined = [(hyp, weight * ext + (1 - weight) * model)
                    for (hyp, ext), model in zip(sentence, scores, strict=True)]
        ranked.append(sorted(combined, key=lambda pair: -pair[1]))
    return ranked
