"""Moses n-best lists: reading them (with clear errors) and re-ranking (the paper's §3.3)."""

import pytest

from keras_s2s.decode.rescore import read_nbest, rescore


def _write(tmp_path, text):
    path = tmp_path / "list.nbest"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_read_nbest_groups_by_sentence_and_keeps_order(tmp_path):
    path = _write(tmp_path, "0 ||| le chat ||| -1.5\n0 ||| un chat ||| -2.0\n"
                            "2 ||| bonjour ||| -0.25\n")
    lists = read_nbest(path)
    assert lists == [[("le chat", -1.5), ("un chat", -2.0)], [], [("bonjour", -0.25)]]


def test_read_nbest_takes_the_last_field_as_the_score(tmp_path):
    path = _write(tmp_path, "0 ||| a b ||| lm=-3 tm=-2 ||| -4.5\n")
    assert read_nbest(path) == [[("a b", -4.5)]]


@pytest.mark.parametrize("line", ["not an n-best line", "x ||| a ||| 1", "0 ||| a ||| high"])
def test_read_nbest_names_the_bad_line(tmp_path, line):
    path = _write(tmp_path, "0 ||| fine ||| -1\n" + line + "\n")
    with pytest.raises(ValueError, match="line 2: expected 'i ||| hypothesis ||| score'"):
        read_nbest(path)


def test_rescore_weights_the_two_scores():
    candidates = [[("a", -1.0), ("b", -3.0)]]
    model = [[-5.0, -1.0]]
    assert rescore(candidates, model, 1.0)[0][0][0] == "a"  # the list's own score only
    assert rescore(candidates, model, 0.0)[0][0][0] == "b"  # the model's only
    even = rescore(candidates, model, 0.5)[0]
    assert even == [("b", -2.0), ("a", -3.0)]


def test_rescore_refuses_lists_that_do_not_line_up():
    with pytest.raises(ValueError, match="2 n-best lists but 1 score lists"):
        rescore([[("a", 0.0)], [("b", 0.0)]], [[0.0]])
    with pytest.raises(ValueError):
        rescore([[("a", 0.0), ("b", 0.0)]], [[0.0]])  # one score missing in a list


def test_read_nbest_skips_the_alignment_field_of_attention_models(tmp_path):
    path = _write(tmp_path, "0 ||| un chat ||| -1.25 ||| 0-0 1-1\n"
                            "0 ||| le chat ||| -2.5 ||| 0-0 2-1\n")
    assert read_nbest(path) == [[("un chat", -1.25), ("le chat", -2.5)]]
