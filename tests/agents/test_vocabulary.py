"""The two text learners log the same rlhf/ keys on the same task, so their runs overlay."""

from __future__ import annotations

import gymnasium as gym

from rlhf_env.metrics import METRICS, metric_key
from tests.agents.conftest import TINY_KWARGS


def _gold(prompts, responses):
    return [float(len(r)) for r in responses]


def test_token_ppo_and_sb3_log_the_same_shared_keys(make_env, tiny_lm):
    from agents.sb3 import RLHFMetricsCallback, make_ppo
    from agents.token_ppo import TokenPPOConfig, TokenPPOTrainer
    from rlhf_env.models import load_causal_lm

    callback = RLHFMetricsCallback()
    env = make_env(4, kl_coef=0.05, reference_model=tiny_lm, gold=_gold)
    make_ppo(env, n_steps=2, n_epochs=1).learn(8, callback=callback)
    sb3_keys = {k for k in callback.history[0] if k.startswith("rlhf/")}

    kwargs = {k: v for k, v in TINY_KWARGS.items() if k != "action_vocab"}
    venv = gym.make_vec("RLHF-Text-v0", num_envs=4, gold=_gold, **kwargs)
    trainer = TokenPPOTrainer(TokenPPOConfig(model="tiny-random-llama", batch_size=4,
                                             minibatch_size=4, max_new_tokens=4,
                                             progress_bar=False), env=venv,
                              policy=load_causal_lm("tiny-random-llama", seed=0))
    token_keys = {k for k in trainer.step() if k.startswith("rlhf/")}
    trainer.close()

    text_metrics = {metric_key(name) for name in ("score", "score_std", "gold_score", "reward",
                                                  "kl", "kl_coef", "response_length",
                                                  "missing_eos", "episodes")}
    assert sb3_keys == token_keys == text_metrics
    assert {k for k in _documented("sb3.md") if k.startswith("rlhf/")} == sb3_keys
    assert text_metrics <= {metric_key(name) for name in METRICS}


def _documented(page: str) -> set[str]:
    """The metric keys a learner page's "Logged metrics" section names in backticks."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "learners" / page).read_text()
    section = text.split("## Logged metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`((?:rlhf|train|time)/[a-z0-9_]+)`", section))


def test_the_token_ppo_docs_page_names_exactly_the_keys_the_trainer_logs():
    from agents.token_ppo import TokenPPOConfig, TokenPPOTrainer
    from rlhf_env.models import load_causal_lm

    kwargs = {k: v for k, v in TINY_KWARGS.items() if k != "action_vocab"}
    venv = gym.make_vec("RLHF-Text-v0", num_envs=4, gold=_gold, **kwargs)
    trainer = TokenPPOTrainer(TokenPPOConfig(model="tiny-random-llama", batch_size=4,
                                             minibatch_size=4, max_new_tokens=4,
                                             advantage="gae", progress_bar=False), env=venv,
                              policy=load_causal_lm("tiny-random-llama", seed=0))
    logged = {k for k in trainer.step() if k.split("/")[0] in ("rlhf", "train", "time")}
    trainer.close()
    assert _documented("token_ppo.md") == logged
