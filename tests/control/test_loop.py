"""The online loop: PPO trains on the learned reward, checkpoints, resumes; the CLI runs it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rlhf_env.control.cli import main
from rlhf_env.control.labeling import SegmentLabeler
from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop, label_schedule
from rlhf_env.errors import ConfigError

PPO_SMALL = {"n_steps": 128, "batch_size": 64, "n_epochs": 2}


def small_config(**changes) -> LoopConfig:
    base = {"total_timesteps": 768, "total_labels": 40, "rounds": 3, "segment_length": 10,
            "n_envs": 2, "ensemble_size": 2, "reward_epochs": 3, "horizon": 50}
    return LoopConfig(**{**base, **changes})


@pytest.mark.parametrize("kind", ["constant", "hyperbolic"])
def test_label_schedule_spends_the_budget_exactly(kind: str) -> None:
    counts = label_schedule(500, 10, 0.3, kind)
    assert sum(counts) == 500 and len(counts) == 10 and counts[0] == 150
    assert min(counts) >= 1
    if kind == "hyperbolic":
        assert counts[1] > counts[-1]


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="selection must be one of"):
        LoopConfig(selection="best")
    with pytest.raises(ConfigError, match="total_labels \\(3\\) must be >= rounds"):
        LoopConfig(total_labels=3, rounds=5)


def test_labeler_must_answer_comparisons_or_build_a_labeler() -> None:
    with pytest.raises(ConfigError, match=r"label\(queries\) -> records method .* got int\."):
        PreferenceLearningLoop("RLHF-CartPole-v0", small_config(), labeler=42)
    with pytest.raises(ConfigError, match="got function returning str"):
        PreferenceLearningLoop("RLHF-CartPole-v0", small_config(), labeler=lambda bank: "me")
    built = []

    def people(bank):
        built.append(bank)
        return SegmentLabeler(bank, seed=3)

    loop = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(),
                                  algorithm_kwargs=PPO_SMALL, labeler=people)
    assert built == [loop.bank] and isinstance(loop.labeler, SegmentLabeler)


def test_ppo_loop_trains_checkpoints_and_resumes(tmp_path) -> None:
    ck, logs = tmp_path / "ck", tmp_path / "logs"
    loop = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(), algorithm_kwargs=PPO_SMALL,
                                  log_dir=logs, checkpoint_dir=ck)
    policy_before = [p.detach().clone() for p in loop.agent.policy.parameters()]
    reward_before = [p.detach().clone() for p in loop.ensemble.parameters()]
    schedule = label_schedule(40, 3, 0.3, "hyperbolic")
    loop.run_round(schedule[0], 256)
    loop.run_round(schedule[1], 256)
    assert loop.agent.num_timesteps == 512 and loop.state.labels_used == sum(schedule[:2])
    assert any(not np.allclose(a, b.detach())
               for a, b in zip(policy_before, loop.agent.policy.parameters(), strict=True))
    assert any(not np.allclose(a, b.detach())
               for a, b in zip(reward_before, loop.ensemble.parameters(), strict=True))
    m = loop.history[-1]
    assert np.isfinite(m["rlhf/true_return"]) and 0.0 <= m["rlhf/reward_val_accuracy"] <= 1.0
    assert m["time/rounds"] == 2 and m["time/total_timesteps"] == 512
    assert (logs / "progress.csv").read_text().count("rlhf/labels_used") == 1
    assert list(logs.glob("events.out.tfevents*"))  # TensorBoard

    resumed = PreferenceLearningLoop.resume(ck)
    assert resumed.state.round == 2 and resumed.agent.num_timesteps == 512
    assert len(resumed.records) == len(loop.records)
    assert [h["rlhf/true_return"] for h in resumed.history] == [
        h["rlhf/true_return"] for h in loop.history]
    probe = loop.bank.transitions()
    assert resumed.ensemble.score(*probe) == pytest.approx(loop.ensemble.score(*probe), rel=1e-5)
    resumed.run()  # the third round only
    assert resumed.state.round == 3 and resumed.state.labels_used == 40
    assert resumed.agent.num_timesteps == 768


def test_resume_without_checkpoint_says_so(tmp_path) -> None:
    with pytest.raises(ConfigError, match="holds no checkpoint"):
        PreferenceLearningLoop.resume(tmp_path)


def test_cli_prefs_runs_and_resumes(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    args = ["prefs", "RLHF-CartPole-v0", "--labels", "20", "--timesteps", "256", "--rounds",
            "2", "--segment-length", "10", "--n-envs", "2", "--ensemble", "2", "--horizon",
            "40", "--out", str(out)]
    assert main(args) == 0
    assert "round 2: steps" in capsys.readouterr().out
    assert main(["prefs", "--resume", str(out), "--rounds", "3", "--json"]) == 0
    printed = capsys.readouterr().out
    assert "round 3: steps" in printed
    assert json.loads(printed.strip().splitlines()[-1])["time/rounds"] == 3  # strict JSON
    # settings that differ from the saved run are refused, each named with its saved value
    config = tmp_path / "more.toml"
    config.write_text("error_rate = 0.3\nsegment_length = 10\n")
    code = main(["prefs", "RLHF-Pendulum-v0", "--resume", str(out), "--labels", "30",
                 "--timesteps", "256", "--set", "seed=4", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 2, err
    for words in ("ENV_ID RLHF-Pendulum-v0 (saved: RLHF-CartPole-v0)",
                  "--labels 30 (saved: 20)", "seed = 4 (--set) (saved: 0)",
                  f"error_rate = 0.3 ({config}) (saved: 0.1)", "only --rounds may change"):
        assert words in err, words
    assert "--timesteps" not in err and "segment_length" not in err  # equal to the saved
    assert main(["prefs", "--resume", str(tmp_path / "nothing")]) == 1
    assert "holds no checkpoint" in capsys.readouterr().err


def test_history_rows_of_older_checkpoints_get_todays_keys():
    from rlhf_env.control.loop import _current_keys

    old = {"round": 1.0, "env_steps": 256.0, "labels_used": 12.0, "true_return": 9.5,
           "reward_val_accuracy": 0.75}
    assert _current_keys(old) == {"time/rounds": 1.0, "time/total_timesteps": 256.0,
                                  "rlhf/labels_used": 12.0, "rlhf/true_return": 9.5,
                                  "rlhf/reward_val_accuracy": 0.75}
    assert _current_keys(_current_keys(old)) == _current_keys(old)


def test_failure_floor_caps_the_fallen_state_at_the_lowest_live_score() -> None:
    from rlhf_env.control.loop import lowest_live_reward
    from rlhf_env.control.segments import failed_steps

    loop = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(failure_floor=True),
                                  algorithm_kwargs=PPO_SMALL)
    assert loop.venv.failure_reward is None  # nothing fitted yet
    loop.run_round(20, 256)
    segments = loop.bank.segments()
    assert any(failed_steps(s).any() for s in segments)  # untrained agents fall
    live = np.concatenate([s.next_obs[~failed_steps(s)] for s in segments])
    scores = loop.ensemble.score(np.zeros_like(live), np.zeros(len(live), dtype=np.int64), live)
    assert loop.venv.failure_reward == pytest.approx(float(scores.min()), rel=1e-5)
    assert lowest_live_reward(loop.ensemble, segments) == loop.venv.failure_reward
    off = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(), algorithm_kwargs=PPO_SMALL)
    off.run_round(20, 256)
    assert off.venv.failure_reward is None and off.pin_failure() is None


def test_failure_floor_survives_a_resume(tmp_path) -> None:
    loop = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(failure_floor=True),
                                  algorithm_kwargs=PPO_SMALL, checkpoint_dir=tmp_path)
    loop.run_round(20, 256)
    again = PreferenceLearningLoop.resume(tmp_path)
    assert again.config.failure_floor
    assert again.venv.failure_reward == pytest.approx(loop.venv.failure_reward, rel=1e-6)


def test_lapse_rate_reaches_the_reward_trainer(monkeypatch) -> None:
    from rlhf_env.control import loop as loop_module

    seen = []
    real = loop_module.fit_segment_ensemble

    def spy(ensemble, records, bank, config):
        seen.append(config.lapse_rate)
        return real(ensemble, records, bank, config)

    monkeypatch.setattr(loop_module, "fit_segment_ensemble", spy)
    loop = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(lapse_rate=0.1),
                                  algorithm_kwargs=PPO_SMALL)
    loop.run_round(20, 128)
    assert seen == [0.1]
    with pytest.raises(ConfigError, match="lapse_rate"):
        small_config(lapse_rate=1.5)
