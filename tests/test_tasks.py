"""The built-in numbers → French words task: spelling rules, determinism, disjoint splits."""

import re

import pytest

from keras_s2s.data.tasks import french_number, load_task, numbers_fr


@pytest.mark.parametrize("n, words", [
    (0, "zéro"), (7, "sept"), (17, "dix-sept"), (21, "vingt et un"), (22, "vingt-deux"),
    (70, "soixante-dix"), (71, "soixante et onze"), (79, "soixante-dix-neuf"),
    (80, "quatre-vingts"), (81, "quatre-vingt-un"), (91, "quatre-vingt-onze"),
    (100, "cent"), (101, "cent un"), (200, "deux cents"), (280, "deux cent quatre-vingts"),
    (1000, "mille"), (2001, "deux mille un"), (21000, "vingt et un mille"),
    (80000, "quatre-vingt mille"), (200000, "deux cent mille"),
    (999999, "neuf cent quatre-vingt-dix-neuf mille neuf cent quatre-vingt-dix-neuf"),
])
def test_french_spelling(n, words):
    assert french_number(n) == words


def test_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="n=1000000"):
        french_number(1_000_000)


def _value(source: str) -> int:
    return int(re.sub(r"[ ,]", "", source))


def test_deterministic_and_seed_dependent():
    a = numbers_fr(seed=3, train_size=500, valid_size=50, test_size=50)
    b = numbers_fr(seed=3, train_size=500, valid_size=50, test_size=50)
    c = numbers_fr(seed=4, train_size=500, valid_size=50, test_size=50)
    assert a == b
    assert a.train != c.train


def test_splits_disjoint_and_consistent():
    splits = load_task("numbers_fr", seed=1, train_size=3000)
    values = [{_value(s) for s, _ in split} for split in splits]
    assert [len(v) for v in values] == [3000, 1000, 1000]  # no number twice in a split
    assert not values[0] & values[1] and not values[0] & values[2] and not values[1] & values[2]
    for source, target in splits.test:
        assert french_number(_value(source)) == target
    assert any("," in s or " " in s for s, _ in splits.train)  # free-form digits occur


def test_unknown_task():
    with pytest.raises(ValueError, match="Unknown built-in task 'dates'"):
        load_task("dates", seed=1, train_size=10)
