"""The README's reward-model training snippet runs as written and learns something.

The default test swaps the 22M-parameter MiniLM for the tiny random BERT and the env's
policy model for the tiny Llama (tests never load the real models); the ``slow`` test runs
the snippet verbatim and checks what the README says about its output."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from rlhf_env.errors import RLHFEnvWarning

README = Path(__file__).resolve().parents[3] / "README.md"
ENV_LINE = 'env = gym.make("RLHF-Text-v0", reward_model="my-rm")'


def snippet() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("Training a reward model from feedback")
    match = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert match, "the training snippet is gone from the README"
    return match.group(1)


def run(code: str, folder: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[str, dict]:
    monkeypatch.chdir(folder)
    namespace: dict = {"__name__": "__readme__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RLHFEnvWarning)  # a useless model would warn
        exec(compile(code, "README.md", "exec"), namespace)
    return capsys.readouterr().out, namespace


def _check(out: str, namespace: dict, folder: Path) -> None:
    first = out.splitlines()[0]
    assert first.startswith("TrainResult(epoch ") and "val accuracy" in first and len(first) < 200
    assert (folder / "my-rm" / "config.json").is_file()
    assert namespace["result"].val_accuracy_ci[0] > 0.5
    env = namespace["env"]
    assert env.unwrapped.core.reward_model.name == namespace["result"].model.name
    env.close()


def test_the_snippet_runs_with_tiny_models(tmp_path, monkeypatch, capsys):
    code = snippet()
    assert 'backbone="all-minilm-l6-v2"' in code and ENV_LINE in code
    code = code.replace('backbone="all-minilm-l6-v2"', 'backbone="tiny-random-bert"')
    code = code.replace(ENV_LINE, ENV_LINE[:-1] + ', model="tiny-random-llama")')
    out, namespace = run(code, tmp_path, monkeypatch, capsys)
    _check(out, namespace, tmp_path)


@pytest.mark.slow
def test_the_snippet_as_written_ranks_positive_above_negative(tmp_path, monkeypatch, capsys):
    out, namespace = run(snippet(), tmp_path, monkeypatch, capsys)
    _check(out, namespace, tmp_path)
    scores = np.array([float(x) for x in re.findall(r"-?\d+\.\d+", out.splitlines()[-1])])
    assert scores.shape == (2,) and scores[0] > scores[1]
    assert namespace["result"].val_accuracy >= 0.8
