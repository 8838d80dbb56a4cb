"""check_rlhf_env passes on every registered id and fails, with a fix-it message, on broken envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import rlhf_env
from rlhf_env import CheckError, check_rlhf_env
from rlhf_env.text.bandit import TextBanditEnv

TEXT_KWARGS = {"model": "tiny-random-llama", "task": "keyword", "max_response_tokens": 4,
               "max_prompt_tokens": 32}
RLHF_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("RLHF-"))


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The tiny reference LM runs far faster on one thread on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _kwargs_for(env_id: str) -> dict:
    """Tiny-model kwargs for text ids; other ids (control tasks) are built as registered."""
    entry = str(gym.spec(env_id).entry_point or gym.spec(env_id).vector_entry_point)
    return dict(TEXT_KWARGS) if entry.startswith("rlhf_env.text") else {}


def _env(**overrides) -> TextBanditEnv:
    return TextBanditEnv(**{**TEXT_KWARGS, "action_vocab": "task", **overrides})


def test_there_are_registered_ids():
    assert "RLHF-Text-v0" in RLHF_IDS


@pytest.mark.parametrize("env_id", RLHF_IDS)
def test_every_registered_id_passes(env_id):
    check_rlhf_env(gym.make(env_id, **_kwargs_for(env_id)))


@pytest.mark.parametrize("env_id", [i for i in RLHF_IDS if gym.spec(i).vector_entry_point])
def test_every_registered_vector_entry_point_passes(env_id):
    env = gym.make_vec(env_id, num_envs=3, **_kwargs_for(env_id))
    check_rlhf_env(env)


def test_passes_with_gold_kl_and_full_vocabulary():
    env = TextBanditEnv(**TEXT_KWARGS, gold=lambda p, r: [float(len(x)) for x in r],
                        kl_coef=0.1)
    check_rlhf_env(env, warn=False)


def test_lazy_export():
    assert rlhf_env.check_rlhf_env is check_rlhf_env


# -- broken observation spaces --------------------------------------------------------------
class FloatIds(gym.ObservationWrapper):
    """Returns token ids as float32 (loses precision, cannot index an embedding)."""

    def __init__(self, env):
        super().__init__(env)
        ids = env.observation_space["input_ids"]
        self.observation_space = spaces.Dict({
            "input_ids": spaces.Box(0, float(ids.high.max()), ids.shape, np.float32),
            "attention_mask": env.observation_space["attention_mask"]})

    def observation(self, obs):
        return {**obs, "input_ids": obs["input_ids"].astype(np.float32)}


class MultiDiscreteIds(gym.ObservationWrapper):
    """Declares the ids as MultiDiscrete, which SB3 one-hot encodes."""

    def __init__(self, env):
        super().__init__(env)
        ids = env.observation_space["input_ids"]
        self.observation_space = spaces.Dict({
            "input_ids": spaces.MultiDiscrete(np.full(ids.shape, int(ids.high.max()) + 1)),
            "attention_mask": env.observation_space["attention_mask"]})

    def observation(self, obs):
        return obs


class Nested(gym.ObservationWrapper):
    def __init__(self, env):
        super().__init__(env)
        self.observation_space = spaces.Dict({**env.observation_space.spaces,
                                              "extra": spaces.Dict({"x": spaces.Discrete(2)})})

    def observation(self, obs):
        return {**obs, "extra": {"x": 0}}


class Flat(gym.ObservationWrapper):
    def __init__(self, env):
        super().__init__(env)
        self.observation_space = env.observation_space["input_ids"]

    def observation(self, obs):
        return obs["input_ids"]


@pytest.mark.parametrize(("wrapper", "message"), [
    (FloatIds, r"'input_ids' has dtype float32; token ids and masks must be integer np\.int64"),
    (MultiDiscreteIds, r"'input_ids' is MultiDiscrete; SB3 one-hot encodes"),
    (Nested, r"'extra' is a nested Dict; SB3 supports flat Dict observations only"),
    (Flat, r"observation space is Box; it must be a flat spaces\.Dict"),
])
def test_bad_observation_space(wrapper, message):
    with pytest.raises(CheckError, match=message):
        check_rlhf_env(wrapper(_env()), warn=False)


# -- broken observation values --------------------------------------------------------------
class EditObs(gym.ObservationWrapper):
    """Applies ``edit(ids, mask) -> (ids, mask)`` to every observation."""

    def __init__(self, env, edit):
        super().__init__(env)
        self.edit = edit

    def observation(self, obs):
        ids, mask = self.edit(obs["input_ids"].copy(), obs["attention_mask"].copy())
        return {"input_ids": ids, "attention_mask": mask}


def _right_padded(ids, mask):
    return np.roll(ids, ids.size - int(mask.sum())), np.roll(mask, mask.size - int(mask.sum()))


def _mask_two(ids, mask):
    return ids, mask * 2


def _garbage_padding(ids, mask):
    return np.where(mask == 0, 7, ids), mask


def _too_large_id(ids, mask):
    ids[-1] = 10**6
    return ids, mask


def _int32(ids, mask):
    return ids.astype(np.int32), mask


@pytest.mark.parametrize(("edit", "message"), [
    (_right_padded, r"goes from 1 back to 0 .*left-padded"),
    (_mask_two, r"attention_mask with values \[0, 2\]; use 1 for real tokens"),
    (_garbage_padding, r"padding positions \(mask 0\) holding token ids \[7\], expected the pad"),
    (_too_large_id, r"token ids outside \[0, \d+\] \(e\.g\. \[1000000\]\)"),
    (_int32, r"'input_ids' as int32; return np\.int64 arrays"),
])
def test_bad_observation_values(edit, message):
    with pytest.raises(CheckError, match=message):
        check_rlhf_env(EditObs(_env(), edit), warn=False)


# -- broken dynamics ------------------------------------------------------------------------
class UnseededReset(TextBanditEnv):
    """Picks prompts from a private counter instead of ``self.np_random``."""

    calls = 0

    def reset(self, *, seed=None, options=None):
        UnseededReset.calls += 1
        index = UnseededReset.calls % len(self.core.prompts)
        return super().reset(seed=seed, options={"prompt_index": index})


class NoisyReward(gym.Wrapper):
    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward + np.random.default_rng().normal(), terminated, truncated, info


class Editstep(gym.Wrapper):
    """Applies ``edit(step_tuple) -> step_tuple`` to every step."""

    def __init__(self, env, edit):
        super().__init__(env)
        self.edit = edit

    def step(self, action):
        return self.edit(self.env.step(action))


def _drop_score(step):
    obs, r, te, tr, info = step
    return obs, r, te, tr, {k: v for k, v in info.items() if k != "score"}


def _drop_gold(step):
    obs, r, te, tr, info = step
    return obs, r, te, tr, {k: v for k, v in info.items() if k != "gold_score"}


def _nan_reward(step):
    obs, _, te, tr, info = step
    return obs, float("nan"), te, tr, info


def _not_terminated(step):
    obs, r, _, tr, info = step
    return obs, r, False, tr, info


def test_non_deterministic_reset():
    with pytest.raises(CheckError, match=r"reset\(seed=0\) twice gave different observations; "
                                         r"draw prompts only from self\.np_random"):
        check_rlhf_env(UnseededReset(**TEXT_KWARGS, action_vocab="task"), warn=False)


def test_non_deterministic_reward():
    with pytest.raises(CheckError, match=r"the same action after reset\(seed=0\) gave rewards"):
        check_rlhf_env(NoisyReward(_env()), warn=False)


@pytest.mark.parametrize(("edit", "message"), [
    (_drop_score, r"info lacks \['score'\]; after a step info must carry"),
    (_nan_reward, r"non-finite reward \(nan\)"),
    (_not_terminated, r"did not return terminated=True after its one step"),
])
def test_bad_step(edit, message):
    with pytest.raises(CheckError, match=message):
        check_rlhf_env(Editstep(_env(), edit), warn=False)


def test_missing_gold_score_when_task_has_gold():
    env = Editstep(_env(gold=lambda p, r: [0.0] * len(r)), _drop_gold)
    with pytest.raises(CheckError, match=r"info lacks \['gold_score'\]"):
        check_rlhf_env(env, warn=False)


# -- generic checkers are wrapped -----------------------------------------------------------
class ResetInfoNotDict(TextBanditEnv):
    def reset(self, *, seed=None, options=None):
        obs, _ = super().reset(seed=seed, options=options)
        return obs, None


class NumpyReward(TextBanditEnv):
    """Returns an np.float32 reward: fine for gymnasium, rejected by SB3's checker."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, np.float32(reward), terminated, truncated, info


def test_gymnasium_checker_failure_becomes_check_error():
    with pytest.raises(CheckError, match=r"gymnasium's check_env failed: AssertionError"):
        check_rlhf_env(ResetInfoNotDict(**TEXT_KWARGS), warn=False)


def test_sb3_checker_failure_becomes_check_error_and_can_be_skipped():
    env = NumpyReward(**TEXT_KWARGS)
    with pytest.raises(CheckError,
                       match=r"Stable-Baselines3's check_env failed: .*must be a float"):
        check_rlhf_env(env, warn=False)
    check_rlhf_env(env, warn=False, skip_sb3=True)


def test_non_text_envs_get_the_generic_checks():
    check_rlhf_env(gym.make("CartPole-v1"), warn=False)
    with pytest.raises(CheckError, match="non-finite reward"):
        check_rlhf_env(Editstep(gym.make("CartPole-v1"), _nan_reward), warn=False)


def test_rejects_non_envs():
    with pytest.raises(CheckError, match=r"expects a gymnasium\.Env or VectorEnv"):
        check_rlhf_env(object())


# -- vector envs ----------------------------------------------------------------------------
def _venv(n: int = 3, **overrides):
    return gym.make_vec("RLHF-Text-v0", num_envs=n, **{**TEXT_KWARGS, **overrides})


class NextStepMode(gym.vector.VectorWrapper):
    def __init__(self, env):
        super().__init__(env)
        self.metadata = {**env.metadata, "autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}


class DropFinalInfo(gym.vector.VectorWrapper):
    def step(self, actions):
        obs, r, te, tr, info = self.env.step(actions)
        return obs, r, te, tr, {k: v for k, v in info.items() if "final_info" not in k}


class NextPromptAsFinalObs(gym.vector.VectorWrapper):
    """Puts the next prompt (not the answered one) under final_obs."""

    def step(self, actions):
        obs, r, te, tr, info = self.env.step(actions)
        info = dict(info)
        info["final_obs"] = np.array([{k: v[i] for k, v in obs.items()}
                                      for i in range(self.num_envs)], dtype=object)
        return obs, r, te, tr, info


class FlatRewards(gym.vector.VectorWrapper):
    def step(self, actions):
        obs, r, te, tr, info = self.env.step(actions)
        return obs, r[:, None], te, tr, info


@pytest.mark.parametrize(("wrapper", "message"), [
    (NextStepMode, r"autoreset_mode'\] is .*NEXT_STEP.*set metadata\['autoreset_mode'\] = "
                   r"AutoresetMode\.SAME_STEP"),
    (DropFinalInfo, r"info lacks a 'final_info' dict"),
    (NextPromptAsFinalObs, r"final_obs'\]\[\d\] is not the prompt the sub-env was answering"),
    (FlatRewards, r"rewards of shape \(3, 1\); expected \(3,\)"),
])
def test_bad_vector_env(wrapper, message):
    with pytest.raises(CheckError, match=message):
        check_rlhf_env(wrapper(_venv()))


def test_bad_vector_mask_names_the_sub_env():
    class RightPadded(gym.vector.VectorWrapper):
        def reset(self, **kwargs):
            obs, info = self.env.reset(**kwargs)
            return {k: v[:, ::-1].copy() for k, v in obs.items()}, info

    with pytest.raises(CheckError, match=r"reset\(\) \(sub-env 0\) returned an attention_mask "
                                         r"that goes from 1 back to 0"):
        check_rlhf_env(RightPadded(_venv()))
