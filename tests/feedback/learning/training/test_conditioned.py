"""Annotator-conditioned reward models: two groups with opposite tastes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.feedback.learning.evaluation import evaluate
from rlhf_env.feedback.learning.labelers import (
    ComparisonQuery,
    SyntheticLabeler,
    SyntheticLabelerConfig,
)
from rlhf_env.feedback.learning.training import (
    AnnotatorConditionedReward,
    ConditionedConfig,
    RewardModelTrainer,
    RewardTrainerConfig,
)
from rlhf_env.feedback.records import Annotator
from tests.feedback.learning.conftest import gold_score, toy_pairs, toy_texts

ANNOTATORS = [Annotator(f"{who[:3]}{i}", {"expertise": who})
              for who in ("doctor", "lawyer") for i in (1, 2)]
FLIP = {"a": "b", "b": "a", "tie": "tie"}


def _split_tastes(n: int, seed: int):
    """Doctors prefer positive words, lawyers negative ones (opposite preferences)."""
    pairs = toy_pairs(toy_texts(300, seed=seed), n, seed=seed)
    recs = SyntheticLabeler(gold_score, SyntheticLabelerConfig(temperature=0.0)).label(
        [ComparisonQuery("Review:", a, b) for a, b in pairs])
    out = []
    for i, r in enumerate(recs):
        ann = ANNOTATORS[i % 4]  # doc1, doc2, law1, law2
        pref = r.preference if ann.attributes["expertise"] == "doctor" else FLIP[r.preference]
        out.append(dataclasses.replace(r, annotator=ann.id, preference=pref))
    return out


@pytest.fixture(scope="module")
def trained():
    from rlhf_env.models import load_sentence_encoder

    enc, tok = load_sentence_encoder("tiny-random-bert")
    model = AnnotatorConditionedReward(enc, tok, {"expertise": ["doctor", "lawyer"]})
    cfg = RewardTrainerConfig(epochs=25, head_lr=1e-2, freeze_backbone=True, patience=0,
                              attribute_dropout=0.0)
    RewardModelTrainer(cfg).fit(model, _split_tastes(800, seed=0), annotators=ANNOTATORS)
    return model


def test_conditioned_model_learns_opposite_preferences(trained):
    held_out = _split_tastes(300, seed=7)
    rep = evaluate(trained, held_out, annotators=ANNOTATORS, condition_on_annotator=True)
    assert rep.per_attribute["expertise"]["doctor"]["accuracy"] > 0.75
    assert rep.per_attribute["expertise"]["lawyer"]["accuracy"] > 0.75
    doctor = trained.for_annotator({"expertise": "doctor"})
    lawyer = trained.for_annotator(ANNOTATORS[2])
    texts = ["good great fun", "awful sad bad"]
    d, law = doctor.score(["Review:"] * 2, texts), lawyer.score(["Review:"] * 2, texts)
    assert d[0] > d[1] and law[0] < law[1]


def test_unconditioned_view_cannot_fit_both_groups(trained):
    rep = evaluate(trained, _split_tastes(300, seed=7), annotators=ANNOTATORS)
    assert rep.pairwise_accuracy < 0.7  # one score for everybody: about half the labels


def test_save_and_load_give_identical_scores(trained, tmp_path):
    trained.save_pretrained(tmp_path / "cond")
    loaded = AnnotatorConditionedReward.from_pretrained(tmp_path / "cond")
    texts = ["good fun", "bad sad", "nice poor"]
    for attrs in ({"expertise": "doctor"}, {"expertise": "lawyer"}, None):
        np.testing.assert_allclose(loaded.score(["Review:"] * 3, texts, annotator=attrs),
                                   trained.score(["Review:"] * 3, texts, annotator=attrs),
                                   rtol=1e-5, atol=1e-6)


def test_loads_through_make_reward_model(trained, tmp_path):
    from rlhf_env.rewards import make_reward_model

    trained.save_pretrained(tmp_path / "cond")
    loaded = make_reward_model(str(tmp_path / "cond"))
    assert isinstance(loaded, AnnotatorConditionedReward)
    texts = ["good fun", "bad sad"]
    np.testing.assert_allclose(loaded.score(["p"] * 2, texts), trained.score(["p"] * 2, texts),
                               rtol=1e-5, atol=1e-6)


def test_conditioned_errors():
    from rlhf_env.models import load_sentence_encoder

    with pytest.raises(ConfigError, match="at least one attribute"):
        ConditionedConfig()
    enc, tok = load_sentence_encoder("tiny-random-bert")
    model = AnnotatorConditionedReward(enc, tok, {"expertise": ["doctor"]})
    with pytest.raises(FeedbackError, match="needs the annotators' attributes"):
        RewardModelTrainer(RewardTrainerConfig(freeze_backbone=True)).fit(
            model, _split_tastes(20, seed=1))
