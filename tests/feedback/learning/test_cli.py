"""``rlhf-env rm train`` and ``rm eval``: a store in, a saved model and its accuracy out."""

from __future__ import annotations

import json

import pytest

from rlhf_env.configs import RUN_CONFIG_FILE, load_config
from rlhf_env.feedback.io import export_jsonl
from rlhf_env.feedback.learning.labelers import (
    ComparisonQuery,
    SyntheticLabeler,
    SyntheticLabelerConfig,
)
from rlhf_env.feedback.learning.runs import RMTrainConfig
from rlhf_env.feedback.store import FeedbackStore
from tests.cli_run import run_cli as _run
from tests.feedback.learning.conftest import gold_score, toy_pairs, toy_texts

TINY = ["--backbone", "tiny-random-bert", "--set", "trainer.head_lr=0.02"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """200 noiseless comparisons of the toy sentiment task."""
    path = tmp_path_factory.mktemp("rm") / "fb.sqlite"
    texts = toy_texts(120, seed=1)
    labeler = SyntheticLabeler(gold_score, SyntheticLabelerConfig(temperature=0.0))
    records = labeler.label([ComparisonQuery("Review:", a, b)
                             for a, b in toy_pairs(texts, 200, seed=1)])
    with FeedbackStore(path) as s:
        s.add_many(records)
    return path




def test_train_saves_a_model_that_eval_scores(store, tmp_path, capsys):
    out = tmp_path / "rm"
    config = tmp_path / "rm.toml"
    config.write_text("[trainer]\nepochs = 2\nval_fraction = 0.2\n[model]\nmax_length = 32\n")
    code, printed, err = _run(["rm", "train", store, "--out", out, *TINY, "--epochs", "6",
                               "--config", config], capsys)
    assert code == 0, err
    assert "trained on 160 record(s) (160 pairs), held out 40" in printed
    accuracy = float(printed.split("held-out accuracy: ")[1].split()[0])
    assert accuracy > 0.7, printed  # noiseless toy labels: well above chance
    assert "time: " in printed and f"saved to {out}" in printed
    assert (out / "config.json").is_file() and (out / "head.safetensors").is_file()
    saved = load_config(RMTrainConfig, out / RUN_CONFIG_FILE)
    # the flag beat the file (epochs), the file beat the defaults (val_fraction, max_length)
    assert (saved.trainer.epochs, saved.trainer.val_fraction) == (6, 0.2)
    assert (saved.model.backbone, saved.model.max_length) == ("tiny-random-bert", 32)

    code, printed, _ = _run(["rm", "eval", out, store], capsys)
    assert code == 0 and "on 200 record(s)" in printed
    assert float(printed.split("pairwise accuracy")[1].split()[0]) > 0.7

    data = tmp_path / "fb.jsonl"
    with FeedbackStore(store, read_only=True) as s:
        export_jsonl(s, data)
    code, printed, _ = _run(["rm", "eval", out, data, "--json"], capsys)
    report = json.loads(printed)  # strict JSON, one object
    assert code == 0 and report["records"] == 200 and report["n_pairs"] == 200
    assert report["rating"] == {} and report["pairwise_accuracy"] > 0.7


def test_eval_json_writes_null_for_undefined_metrics(store, tmp_path, capsys):
    data = tmp_path / "ratings.jsonl"
    data.write_text(json.dumps({"kind": "rating", "prompt": "p", "response": "good",
                                "score": 3, "annotator": "a"}) + "\n")
    code, printed, err = _run(["rm", "eval", "length", data, "--json"], capsys)
    assert code == 0, err
    assert "NaN" not in printed
    report = json.loads(printed)
    assert report["pairwise_accuracy"] is None and report["rating"]["pearson"] is None


@pytest.mark.parametrize(("extra", "words"), [
    (["--set", "trainer.epoch=2"], "Did you mean 'trainer.epochs'"),
    (["--set", "trainer.epochs=0"], "--set: trainer.epochs = 0: "),
    (["--set", "trainer.lr=fast"], "trainer.lr = fast: expected a number"),
    (["--set", "model.head.kind=deep"], "model.head.kind = deep"),
    (["--config", "missing.toml"], "missing.toml: no such file"),
])
def test_bad_settings_exit_2_with_one_error_line(store, tmp_path, capsys, extra, words):
    code, _, err = _run(["rm", "train", store, "--out", tmp_path / "rm", *TINY, *extra],
                        capsys)
    assert code == 2 and words in err, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
    assert not (tmp_path / "rm").exists()


def test_an_empty_selection_or_missing_store_is_a_failure(store, tmp_path, capsys):
    code, _, err = _run(["rm", "train", store, "--out", tmp_path / "rm", "--task", "nope"],
                        capsys)
    assert code == 1 and "no feedback records of task 'nope'" in err
    code, _, err = _run(["rm", "eval", "length", tmp_path / "none.sqlite"], capsys)
    assert code == 1 and "no such feedback store or file" in err
