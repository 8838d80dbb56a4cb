"""``rlhf-env sft`` and ``rlhf-env ppo`` (agents/commands.py, found through the
``rlhf_env.commands`` entry-point group) on the tiny Llama."""

from __future__ import annotations

import importlib.metadata
import json

import pytest
import torch

from rlhf_env.cli import COMMAND_GROUP
from rlhf_env.configs import RUN_CONFIG_FILE, load_config
from tests.cli_run import run_cli as _run

PPO_TINY = ["--model", "tiny-random-llama", "--task", "keyword", "--set", "ppo.batch_size=4",
            "--set", "ppo.minibatch_size=2", "--set", "ppo.max_new_tokens=4", "--set",
            "ppo.max_prompt_tokens=32", "--set", "ppo.progress_bar=false"]




def test_the_commands_are_entry_points():
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=COMMAND_GROUP)}
    assert found.get("sft") == "agents.commands:add_sft", (
        "reinstall the package (pip install -e .) so its entry points are current")
    assert found.get("ppo") == "agents.commands:add_ppo"


def test_importing_the_commands_is_light():
    import subprocess
    import sys

    code = ("import sys, agents.commands; "
            "print([m for m in ('torch', 'transformers', 'agents.sft') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture
def demos(tmp_path):
    path = tmp_path / "demos.jsonl"
    rows = [("Say something.", "good great day"), ("Write a short review.", "very good food"),
            ("Describe your day.", "happy time"), ("Say hi.", "love the day")]
    path.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in rows))
    return path


def test_sft_then_ppo_on_the_fine_tuned_model(demos, tmp_path, capsys):
    from agents.runs import PPORunConfig, SFTRunConfig

    sft = tmp_path / "sft"
    code, out, err = _run(["sft", demos, "--model", "tiny-random-llama", "--out", sft,
                           "--epochs", "3", "--lr", "0.01", "--set", "sft.eval_fraction=0.25",
                           "--set", "sft.progress_bar=false"], capsys)
    assert code == 0, err
    assert "on 4 demonstration(s) (3 train, 1 held out)" in out and "time: " in out
    before, after = (float(x) for x in out.split("response log-prob (held-out): ")[1]
                     .split()[0:3:2])
    assert after != before  # it trained
    train = [float(x) for x in out.split("loss per epoch: ")[1].splitlines()[0].split(", ")]
    assert len(train) == 3 and train[-1] < train[0]
    assert (sft / "model.safetensors").is_file() and (sft / "tokenizer.json").is_file()
    saved = load_config(SFTRunConfig, sft / RUN_CONFIG_FILE)
    assert (saved.model, saved.sft.epochs, saved.sft.eval_fraction) == ("tiny-random-llama",
                                                                        3, 0.25)

    ppo = tmp_path / "ppo"
    code, out, err = _run(["ppo", *PPO_TINY, "--model", sft, "--reward-model", "keyword",
                           "--steps", "2", "--out", ppo], capsys)
    assert code == 0, err
    assert f"trained {sft} for 2 step(s) on task 'keyword' against keyword" in out
    assert "score: " in out and "KL to the reference" in out and f"saved to {ppo}" in out
    metrics = [json.loads(line) for line in (ppo / "metrics.jsonl").read_text().splitlines()]
    assert [m["time/iterations"] for m in metrics] == [1, 2]
    assert (ppo / "policy" / "value_head.safetensors").is_file()
    assert (ppo / "checkpoint.safetensors").is_file()
    config = load_config(PPORunConfig, ppo / RUN_CONFIG_FILE)
    assert (config.steps, config.reward_model, config.ppo.model) == (2, "keyword", str(sft))
    assert config.ppo.batch_size == 4


def test_ppo_checkpoint_resumes_into_a_trainer(tmp_path, capsys):
    """The saved state loads into a trainer built from the saved run config."""
    from agents.runs import PPORunConfig, trainer_config
    from agents.token_ppo import PolicyWithValue, TokenPPOTrainer, load_checkpoint

    out = tmp_path / "ppo"
    code, _, err = _run(["ppo", *PPO_TINY, "--steps", "1", "--out", out, "--seed", "3"],
                        capsys)
    assert code == 0, err
    config = load_config(PPORunConfig, out / RUN_CONFIG_FILE)
    trainer = TokenPPOTrainer(trainer_config(config))
    try:
        load_checkpoint(trainer, out / "checkpoint.safetensors")
        assert trainer.step_count == 1 and trainer.config.seed == 3
        saved = PolicyWithValue.from_pretrained(out / "policy")
        for name, value in trainer.policy.value_head.state_dict().items():
            assert torch.equal(saved.value_head.state_dict()[name], value), name
    finally:
        trainer.close()


def test_ppo_at_zero_beta_says_the_kl_was_not_measured(tmp_path, capsys):
    code, out, err = _run(["ppo", *PPO_TINY, "--set", "ppo.kl_coef=0", "--steps", "1",
                           "--out", tmp_path / "ppo"], capsys)
    assert code == 0, err
    assert "KL to the reference: not measured" in out and "reference_pass" in out


@pytest.mark.parametrize(("argv", "words"), [
    (["ppo", "--set", "ppo.learning_rat=1e-3"], "Did you mean 'ppo.learning_rate'"),
    (["ppo", "--set", "ppo.minibatch_size=3"], "--set: ppo.minibatch_size = 3"),
    (["ppo", "--set", "steps=0"], "steps = 0"),
    (["sft", "DEMOS", "--set", "sft.eval_fraction=2"], "sft.eval_fraction = 2"),
    (["sft", "DEMOS", "--set", "epochs=2"], "Did you mean 'sft.epochs'"),
])
def test_bad_settings_exit_2_with_one_error_line(demos, tmp_path, capsys, argv, words):
    argv = [str(demos) if a == "DEMOS" else a for a in argv]
    code, _, err = _run([*argv, "--out", tmp_path / "out"], capsys)
    assert code == 2 and words in err, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
    assert not (tmp_path / "out").exists()


def test_a_bad_reward_model_name_is_a_usage_error(tmp_path, capsys):
    code, _, err = _run(["ppo", *PPO_TINY, "--reward-model", "keywrd", "--steps", "1",
                         "--out", tmp_path / "out"], capsys)
    assert code == 2 and "Did you mean 'keyword'" in err


def test_the_readme_config_example_loads(tmp_path):
    from pathlib import Path

    from agents.runs import PPORunConfig

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Command line", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "ppo.toml"
    path.write_text(example)
    config = load_config(PPORunConfig, path)
    assert (config.steps, config.reward_model, config.ppo.task) == (50, "runs/rm", "sentiment")
