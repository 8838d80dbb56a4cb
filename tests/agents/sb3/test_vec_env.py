"""RLHFVecEnv: SB3's VecEnv API over the batched text env (shapes, autoreset, infos, seeding)."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, VecNormalize

from agents.sb3 import RLHFVecEnv, unbatch_info
from tests.agents.conftest import TINY_KWARGS


def _actions(env: VecEnv, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, env.action_space.nvec, size=(env.num_envs, *env.action_space.shape))


def test_spaces_and_shapes(make_env):
    env = make_env(4)
    assert isinstance(env, VecEnv)
    assert env.num_envs == 4
    assert isinstance(env.observation_space, gym.spaces.Dict)
    assert env.observation_space["input_ids"].shape == (32,)
    assert env.action_space == gym.spaces.MultiDiscrete([13] * 4)
    obs = env.reset()
    assert {k: (v.shape, v.dtype) for k, v in obs.items()} == {
        "input_ids": ((4, 32), np.int64), "attention_mask": ((4, 32), np.int64)}
    obs, rewards, dones, infos = env.step(_actions(env))
    assert obs["input_ids"].shape == (4, 32)
    assert rewards.shape == (4,) and rewards.dtype == np.float32
    assert dones.shape == (4,) and dones.dtype == bool and dones.all()
    assert isinstance(infos, list) and len(infos) == 4


def test_step_infos_carry_terminal_observation_and_episode_info(make_env):
    env = make_env(3)
    first = env.reset()
    answered = [info["prompt_index"] for info in env.reset_infos]
    _, rewards, _, infos = env.step(_actions(env))
    for i, info in enumerate(infos):
        for key in ("input_ids", "attention_mask"):
            np.testing.assert_array_equal(info["terminal_observation"][key], first[key][i])
        assert info["prompt_index"] == answered[i]
        assert isinstance(info["prompt"], str) and isinstance(info["response"], str)
        assert info["score"] == pytest.approx(float(rewards[i]))  # kl_coef = 0
        assert {"kl_term", "response_tokens", "hit_token_limit"} <= set(info)
        assert info["TimeLimit.truncated"] is False
        assert info["episode"]["r"] == pytest.approx(float(rewards[i]))
        assert info["episode"]["l"] == 1
    _, rewards, _, infos = env.step(_actions(env, 1))  # episode stats restart every episode
    assert [info["episode"]["r"] for info in infos] == pytest.approx(rewards.tolist())
    assert [info["episode"]["l"] for info in infos] == [1, 1, 1]


def test_auto_reset_returns_the_next_prompts(make_env):
    env = make_env(4, seed=3)
    env.reset()
    obs, _, _, _ = env.step(_actions(env))
    # The returned observation is the next episode's, and reset_infos describe it.
    for i, info in enumerate(env.reset_infos):
        ids, _ = env.venv.core.encode_prompt(info["prompt_index"])
        np.testing.assert_array_equal(obs["input_ids"][i, -ids.size:], ids)
    nxt = [info["prompt_index"] for info in env.reset_infos]
    _, _, _, infos = env.step(_actions(env, 1))
    assert [info["prompt_index"] for info in infos] == nxt


def test_rewards_match_the_gymnasium_vector_env(make_env):
    env = make_env(4, seed=5)
    ref = gym.make_vec("RLHF-Text-v0", num_envs=4, **TINY_KWARGS)
    obs = env.reset()
    ref_obs, _ = ref.reset(seed=5)
    np.testing.assert_array_equal(obs["input_ids"], ref_obs["input_ids"])
    actions = _actions(env)
    rewards = env.step(actions)[1]
    np.testing.assert_allclose(rewards, ref.step(actions)[1])


def test_seed_follows_sb3_semantics(make_env):
    env = make_env(3, seed=None)
    assert env.seed(7) == [7, 8, 9]
    a = env.reset()
    env.step(_actions(env))
    env.seed(7)
    b = env.reset()
    np.testing.assert_array_equal(a["input_ids"], b["input_ids"])
    other = make_env(3, seed=None)
    other.seed(7)
    np.testing.assert_array_equal(other.reset()["input_ids"], a["input_ids"])


def test_seeds_are_used_once(make_env):
    env = make_env(2, seed=11)
    env.reset()
    assert env._seeds == [None, None]


def test_options_must_be_shared(make_env):
    env = make_env(2)
    env.set_options([{"a": 1}, {"a": 2}])
    with pytest.raises(ValueError, match="one options dict"):
        env.reset()


def test_attributes_and_methods_act_on_the_batched_env(make_env):
    env = make_env(3)
    assert env.get_attr("num_envs") == [3, 3, 3]
    assert env.get_attr("render_mode", indices=[1]) == [None]
    env.set_attr("custom_flag", 5)
    assert env.get_attr("custom_flag") == [5, 5, 5]
    with pytest.raises(ValueError, match="share one batched env"):
        env.set_attr("custom_flag", 6, indices=[0])
    env.reset()
    assert len(env.env_method("render", indices=[0, 2])) == 2
    assert env.env_is_wrapped(gym.Wrapper) == [False] * 3
    assert env.has_attr("core") and not env.has_attr("no_such_attribute")


def test_env_is_wrapped_sees_vector_wrappers():
    venv = gym.wrappers.vector.RecordEpisodeStatistics(
        gym.make_vec("RLHF-Text-v0", num_envs=2, **TINY_KWARGS))
    env = RLHFVecEnv(venv)
    assert env.env_is_wrapped(gym.wrappers.vector.RecordEpisodeStatistics) == [True, True]
    assert env.env_is_wrapped(gym.wrappers.vector.ClipReward) == [False, False]


def test_render_ansi(make_env):
    env = make_env(2, render_mode="ansi")
    env.reset()
    env.step(_actions(env))
    text = env.render()
    assert text.count("RESPONSE") == 2 and "score" in text


def test_needs_same_step_autoreset():
    venv = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match=r"AutoresetMode\.SAME_STEP"):
        RLHFVecEnv(venv)


def test_multi_step_episodes_of_any_same_step_env():
    venv = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    env = RLHFVecEnv(venv)
    env.seed(0)
    env.reset()
    finished = []
    for _ in range(200):
        _, _, dones, infos = env.step(np.zeros(2, dtype=np.int64))
        finished += [info for done, info in zip(dones, infos, strict=True) if done]
        if finished:
            break
    assert finished, "CartPole with a constant action falls within 200 steps"
    info = finished[0]
    assert info["episode"]["l"] > 1 and info["episode"]["r"] == info["episode"]["l"]
    assert info["terminal_observation"].shape == (4,)


def test_sb3_vec_wrappers_stack_on_top(make_env):
    with pytest.warns(UserWarning, match="already wrapped with a `Monitor`"):
        monitored = VecMonitor(make_env(2))  # redundant: SB3 says it overwrites the same stats
    env = VecNormalize(monitored, norm_obs=False)
    env.reset()
    _, rewards, _, infos = env.step(_actions(env))
    assert rewards.shape == (2,) and "episode" in infos[0] and "score" in infos[0]


def test_the_adapter_is_its_own_monitor(recwarn):
    from stable_baselines3.common.monitor import Monitor

    env = RLHFVecEnv(gym.make_vec("RLHF-Text-v0", num_envs=2, **TINY_KWARGS))
    assert env.env_is_wrapped(Monitor) == [True, True]
    bare = RLHFVecEnv(gym.make_vec("RLHF-Text-v0", num_envs=2, **TINY_KWARGS),
                      episode_stats=False)
    assert bare.env_is_wrapped(Monitor) == [False, False]
    monitored = VecMonitor(bare)  # the stats come from VecMonitor instead, without a warning
    assert not [w for w in recwarn if "Monitor" in str(w.message)]
    monitored.reset()
    _, rewards, _, infos = monitored.step(_actions(monitored))
    assert [i["episode"]["r"] for i in infos] == pytest.approx(rewards.tolist())


def test_step_wait_needs_step_async(make_env):
    env = make_env(2)
    env.reset()
    with pytest.raises(RuntimeError, match="step_async"):
        env.step_wait()


def test_unbatch_info_honours_masks_and_nesting():
    info = {"a": np.array([1, 2]), "_a": np.array([True, False]),
            "b": {"c": np.array([0.5, 1.5]), "_c": np.array([True, True])},
            "_b": np.array([True, True])}
    assert unbatch_info(info, 0) == {"a": 1, "b": {"c": 0.5}}
    assert unbatch_info(info, 1) == {"b": {"c": 1.5}}
    assert isinstance(unbatch_info(info, 0)["a"], int)


def test_importing_agents_does_not_import_torch():
    code = ("import sys, agents; assert 'torch' not in sys.modules; "
            "assert 'stable_baselines3' not in sys.modules; agents.RLHFVecEnv; "
            "assert 'stable_baselines3' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
