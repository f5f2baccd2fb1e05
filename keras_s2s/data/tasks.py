"""Built-in generated translation tasks: no download, deterministic from a seed."""

from __future__ import annotations

import random
from typing import Callable, NamedTuple

Pair = tuple[str, str]

_UNITS = ("zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze "
          "quinze seize").split()
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


class TaskSplits(NamedTuple):
    """Sentence pairs of a task, split with no source value shared between splits."""

    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]


def _below_100(n: int) -> str:
    """French words for 0 <= n < 100 (traditional spelling: "vingt et un", "quatre-vingts")."""
    if n < 17:
        return _UNITS[n]
    if n < 20:
        return "dix-" + _UNITS[n - 10]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # 70-79 = 60 + 10..19, 90-99 = 80 + 10..19
        base = "soixante" if tens == 7 else "quatre-vingt"
        rest = _below_100(10 + unit)
        joiner = " et " if (tens == 7 and unit == 1) else "-"
        return base + joiner + rest
    if tens == 8:
        return "quatre-vingts" if unit == 0 else "quatre-vingt-" + _UNITS[unit]
    word = _TENS[tens]
    if unit == 0:
        return word
    return word + (" et un" if unit == 1 else "-" + _UNITS[unit])


def _below_1000(n: int, before_mille: bool = False) -> str:
    """French words for 0 < n < 1000; plural "cents"/"vingts" drop their s before "mille"."""
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds:
        head = "cent" if hundreds == 1 else _UNITS[hundreds] + " cent"
        if rest == 0 and hundreds > 1 and not before_mille:
            head += "s"
        words.append(head)
    if rest:
        tail = _below_100(rest)
        if before_mille and tail == "quatre-vingts":
            tail = "quatre-vingt"
        words.append(tail)
    return " ".join(words)


def french_number(n: int) -> str:
    """Spells `0 <= n < 1_000_000` in French words, e.g. 281 → "deux cent quatre-vingt-un"."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"french_number handles 0 <= n < 1000000; received: n={n}.")
    if n == 0:
        return _UNITS[0]
    thousands, rest = divmod(n, 1000)
    words = []
    if thousands:
        words.append("mille" if thousands == 1 else _below_1000(thousands, True) + " mille")
    if rest:
        words.append(_below_1000(rest))
    return " ".join(words)


def _format_digits(n: int, rng: random.Random) -> str:
    """Writes n in digits, sometimes with a thousands separator as people do ("12 500")."""
    plain = str(n)
    if n < 1000:
        return plain
    style = rng.random()
    if style < 0.7:
        return plain
    sep = " " if style < 0.85 else ","
    return f"{n // 1000}{sep}{n % 1000:03d}"


def numbers_fr(seed: int, train_size: int, valid_size: int = 1000,
               test_size: int = 1000) -> TaskSplits:
    """Numbers written in digits → French number words.

    The number of digits (1-6) is drawn uniformly, then the value uniformly, so short and
    long numbers are equally common. Splits share no number, so held-out scores measure
    generalisation to unseen values.

    Args:
        seed: makes the splits reproducible.
        train_size, valid_size, test_size: pairs per split.

    Returns:
        `TaskSplits` of `(source, target)` pairs, e.g. `("4 021", "quatre mille vingt et un")`.
    """
    total = train_size + valid_size + test_size
    if total > 900_000:
        raise ValueError(f"numbers_fr holds under 900000 distinct numbers; received: {total}.")
    rng = random.Random(seed)
    values: set[int] = set()
    while len(values) < total:
        digits = rng.randint(1, 6)
        low = 0 if digits == 1 else 10 ** (digits - 1)
        values.add(rng.randrange(low, 10 ** digits))
    ordered = sorted(values)
    rng.shuffle(ordered)
    pairs = [(_format_digits(n, rng), french_number(n)) for n in ordered]
    return TaskSplits(pairs[:train_size], pairs[train_size:train_size + valid_size],
                      pairs[train_size + valid_size:])


TASKS: dict[str, Callable[..., TaskSplits]] = {"numbers_fr": numbers_fr}


def load_task(name: str, seed: int, train_size: int) -> TaskSplits:
    """Generates the built-in task `name` (see `TASKS`)."""
    if name not in TASKS:
        raise ValueError(f"Unknown built-in task {name!r}. Choose one of: {', '.join(TASKS)}.")
    return TASKS[name](seed, train_size)
