"""End-to-end: `keras-s2s demo` as `make demo` runs it (several minutes; `make test-slow`)."""

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_reaches_exact_match(tmp_path):
    result = subprocess.run([sys.executable, "-m", "keras_s2s.cli", "demo", "--model-dir",
                             str(tmp_path / "demo")], capture_output=True, text=True,
                            check=True, timeout=1200)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["exact_match"] >= 0.9
    assert figures["reload_agreement"] == 1.0
    assert "tok:13a" in figures["bleu_signature"]
    assert (tmp_path / "demo" / "export" / "numbers_fr" / "1" / "saved_model.pb").is_file()
