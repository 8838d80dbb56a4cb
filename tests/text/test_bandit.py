"""RLHF-Text-v0: spaces, step semantics, EOS handling, bad input, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import ConfigError, InvalidActionError, PromptError, RewardModelError
from tests.text.helpers import ConstantReward, CountingReward, make_env, token_action, word_ids


def test_spaces_survive_sb3_preprocessing():
    env = make_env(action_vocab="task")
    obs_space = env.observation_space
    assert set(obs_space.spaces) == {"input_ids", "attention_mask"}
    for box in obs_space.spaces.values():
        assert box.dtype == np.int64 and box.shape == (64,)
    assert obs_space["input_ids"].high.max() == len(env.unwrapped.core.tokenizer) - 1
    assert env.action_space.shape == (6,)
    vocab = env.unwrapped.core.vocab
    assert vocab.restricted and vocab.eos_id in vocab.token_ids
    assert int(env.action_space.nvec[0]) == vocab.size


def test_full_vocabulary_is_the_default():
    env = make_env()
    assert int(env.action_space.nvec[0]) == len(env.unwrapped.core.tokenizer) == 2048


def test_reset_returns_left_padded_prompt_and_info():
    env = make_env()
    obs, info = env.reset(seed=3)
    mask, ids = obs["attention_mask"], obs["input_ids"]
    n = int(mask.sum())
    assert 0 < n < 64 and mask[-n:].all() and not mask[:-n].any()
    tok = env.unwrapped.core.tokenizer
    assert (ids[:-n] == tok.pad_token_id).all()
    text = tok.decode(ids[-n:])
    assert info["prompt"] in text and "<|im_start|>assistant" in text  # chat template applied


def test_step_scores_decoded_response_and_ends_episode():
    reward = CountingReward()
    env = make_env(reward_model=reward, action_vocab="task")
    env.reset(seed=0)
    great = word_ids(env, ["great", "great", "day"])
    _, r, terminated, truncated, info = env.step(token_action(env, great))
    assert (terminated, truncated) == (True, False)
    assert info["response"] == "great great day"
    assert r == pytest.approx(2.0) and info["score"] == pytest.approx(2.0)
    assert info["response_tokens"] == 4  # three words + EOS
    assert not info["hit_token_limit"] and info["kl_term"] == 0.0


def test_tokens_after_eos_are_ignored():
    env = make_env(reward_model=CountingReward(), action_vocab="task")
    vocab = env.unwrapped.core.vocab
    a = token_action(env, word_ids(env, ["great"]))
    b = a.copy()
    b[2:] = np.arange(4) % (vocab.size - 1)  # garbage after the EOS at position 1
    infos = []
    for action in (a, b):
        env.reset(seed=0)
        infos.append(env.step(action)[4])
    assert infos[0]["response"] == infos[1]["response"] == "great"


def test_empty_response_and_token_limit():
    env = make_env(reward_model=CountingReward(), action_vocab="task")
    env.reset(seed=0)
    empty = np.full(6, env.unwrapped.core.vocab.eos_action)
    info = env.step(empty)[4]
    assert info["response"] == "" and info["response_tokens"] == 1
    env.reset(seed=0)
    no_eos = token_action(env, word_ids(env, ["great"] * 6))
    info = env.step(no_eos)[4]
    assert info["hit_token_limit"] and info["response_tokens"] == 6


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.full(6, 10_000), "outside [0, "),
        (np.zeros(5, dtype=np.int64), "expected (6,)"),
        (np.zeros(6, dtype=np.float32), "dtype float32"),
        (np.full(6, -1), "outside [0, "),
    ],
)
def test_invalid_actions_raise_clear_errors(action, message):
    env = make_env(action_vocab="task")
    env.reset(seed=0)
    with pytest.raises(InvalidActionError) as err:
        env.unwrapped.step(action)
    assert message in str(err.value)


def test_step_before_reset_is_refused():
    env = make_env()
    with pytest.raises(Exception, match="reset"):
        env.unwrapped.step(env.action_space.sample())


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (lambda n: np.full(n, np.nan), "NaN for 1 of 1"),
        (lambda n: np.zeros(n + 1), "shape (2,)"),
        (lambda n: np.full(n, np.inf), "inf for 1 of 1"),
    ],
)
def test_bad_reward_model_output_never_reaches_the_agent(values, message):
    env = make_env(reward_model=ConstantReward(values, name="broken-rm"), action_vocab="task")
    env.reset(seed=0)
    with pytest.raises(RewardModelError) as err:
        env.step(env.action_space.sample())
    assert "broken-rm" in str(err.value) and message in str(err.value)


def test_empty_prompt_list_is_rejected():
    with pytest.raises(PromptError, match="empty"):
        make_env(prompts=["", "   "])


def test_long_prompts_truncate_with_warning_or_raise():
    long = ["word " * 200]
    env = make_env(prompts=long, max_prompt_tokens=16)
    with pytest.warns(UserWarning, match="max_prompt_tokens=16"):
        obs, info = env.reset(seed=0)
    assert info["prompt_truncated"] and obs["attention_mask"].all()
    strict = make_env(prompts=long, max_prompt_tokens=16, long_prompt="error")
    with pytest.raises(PromptError, match="raise max_prompt_tokens"):
        strict.reset(seed=0)


def test_tokenizer_without_pad_token_pads_with_eos():
    from rlhf_env.models import tiny_tokenizer

    raw = tiny_tokenizer()
    assert raw.pad_token is None
    env = make_env(tokenizer=raw)
    obs, _ = env.reset(seed=0)
    assert raw.pad_token_id == raw.eos_token_id
    assert (obs["input_ids"][obs["attention_mask"] == 0] == raw.eos_token_id).all()


def test_same_seed_same_prompts_and_rewards():
    def run(seed):
        env = make_env(reward_model=CountingReward(), action_vocab="task")
        env.action_space.seed(seed)
        out = []
        _, info = env.reset(seed=seed)
        for _ in range(5):
            _, r, *_, step_info = env.step(env.action_space.sample())
            out.append((info["prompt_index"], step_info["response"], r))
            _, info = env.reset()
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_unknown_argument_and_task_suggest_names():
    with pytest.raises(ConfigError, match="did you mean 'kl_coef'"):
        make_env(kl_coeff=0.1)
    with pytest.raises(KeyError, match="Did you mean 'sentiment'"):
        make_env(task="sentimant")


def test_prompts_from_jsonl_file(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "Say hi."}\n{"prompt": "Say bye."}\n', encoding="utf-8")
    env = make_env(prompts=str(path))
    seen = {env.reset(seed=s)[1]["prompt"] for s in range(10)}
    assert seen == {"Say hi.", "Say bye."}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(PromptError, match=r"bad.jsonl:2"):
        make_env(prompts=str(bad))


def test_render_ansi_shows_prompt_response_and_score():
    env = make_env(render_mode="ansi", reward_model=CountingReward(), action_vocab="task")
    env.reset(seed=0)
    env.step(token_action(env, word_ids(env, ["great"])))
    text = env.render()
    assert "PROMPT" in text and "'great'" in text and "score +1.000" in text
