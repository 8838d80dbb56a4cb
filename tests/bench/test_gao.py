"""Gao-protocol proxies: reproducible from their seed, and biased annotators bias the proxy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rlhf_env.bench import get_task
from rlhf_env.bench.gao import Annotators, GaoProxy, arithmetic_prompts, candidate
from rlhf_env.errors import ConfigError

PROMPTS = ("Review the café.", "Describe your trip.", "Rate the hotel.")


def _spec(**fields) -> GaoProxy:
    base = GaoProxy("tiny", "vader", PROMPTS, "sentiment", labels=64, backbone="tiny-random-bert",
                    epochs=3)
    return dataclasses.replace(base, **fields)


def _weights(folder: str) -> bytes:
    return (__import__("pathlib").Path(folder) / "head.safetensors").read_bytes()


def test_same_seed_rebuilds_identical_proxy_weights_and_another_seed_differs(tmp_path):
    first = _spec().prepare(tmp_path / "a")["reward_model"]
    again = _spec().prepare(tmp_path / "b")["reward_model"]
    other = _spec(seed=1).prepare(tmp_path / "c")["reward_model"]
    assert _weights(first) == _weights(again)
    assert _weights(first) != _weights(other)


def test_prepare_is_cached_and_keyed_by_the_spec(tmp_path):
    spec = _spec()
    folder = spec.prepare(tmp_path)["reward_model"]
    stamp = (tmp_path / folder / "head.safetensors").stat().st_mtime_ns
    assert spec.prepare(tmp_path)["reward_model"] == folder
    assert (tmp_path / folder / "head.safetensors").stat().st_mtime_ns == stamp
    assert _spec(labels=65).prepare(tmp_path)["reward_model"] != folder


def test_comparisons_are_reproducible_and_labelled_by_the_population():
    records = _spec().comparisons()
    assert len(records) == 64
    def content(recs):
        return [(r.prompt, r.response_a, r.response_b, r.preference, r.annotator) for r in recs]

    assert content(records) == content(_spec().comparisons())
    assert {r.annotator for r in records} <= {f"sim{i}" for i in range(8)}


def test_arithmetic_proxy_labels_distinct_answers_by_the_verifiable_gold():
    prompts = arithmetic_prompts(4, seed=0)
    records = _spec(gold="arithmetic", prompts=prompts, generator="arithmetic",
                    labels=300).comparisons()
    assert all(r.response_a != r.response_b for r in records)


def test_biased_proxy_prefers_longer_answers_than_the_gold_does(tmp_path):
    """Padding an answer with neutral words leaves VADER unchanged; the proxy learned from
    length-biased annotators (real MiniLM backbone) scores the padded answer higher."""
    from rlhf_env.rewards import make_reward_model

    spec = get_task("gao-sentiment-biased").prepare.__self__
    spec = dataclasses.replace(spec, labels=800)
    proxy = make_reward_model(spec.prepare(tmp_path)["reward_model"])
    gold = make_reward_model("vader")
    short = ["good food", "bad service", "nice people", "awful trip", "great day", "sad news",
             "lovely room", "rude staff", "fun trip", "boring movie", "clean hotel", "cold tea"]
    long = [f"{s} and then the day was in the city with the people at the time of our trip"
            for s in short]
    prompts = ["Leave a short comment."] * len(short)
    proxy_gain = proxy.score(prompts, long) - proxy.score(prompts, short)
    gold_gain = gold.score(prompts, long) - gold.score(prompts, short)
    assert np.allclose(gold_gain, 0.0)
    assert (proxy_gain > 0).all() and proxy_gain.mean() > 1.0


def test_candidate_generators_are_seeded_and_feed_the_biases():
    a = [candidate("sentiment", "p", np.random.default_rng(0)) for _ in range(3)]
    b = [candidate("sentiment", "p", np.random.default_rng(0)) for _ in range(3)]
    assert a == b
    many = [candidate("sentiment", "p", rng) for rng in [np.random.default_rng(1)] * 200]
    assert any("definitely" in s or "certainly" in s or "clearly" in s for s in many)
    assert len({len(s.split()) for s in many}) > 10
    prompt = arithmetic_prompts(1, seed=0)[0]
    answers = [candidate("arithmetic", prompt, rng) for rng in [np.random.default_rng(2)] * 50]
    assert len(set(answers)) > 5


def test_bad_specs_raise_fix_it_errors():
    with pytest.raises(ConfigError, match="generator must be one of"):
        _spec(generator="poetry")
    with pytest.raises(ConfigError, match="labels must be >= 8"):
        _spec(labels=2)
    with pytest.raises(ConfigError, match="size must be >= 1"):
        Annotators(size=0)
