"""The built-in tasks, suites and algorithm entry points; layering of rlhf_env and agents."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rlhf_env.bench import get_algorithm, get_suite, get_task, list_suites, list_tasks

BUILTIN_ALGORITHMS = ("sb3-ppo", "sb3-a2c", "sb3-ppo-token", "token-ppo-gae", "token-ppo-rloo",
                      "token-ppo-grpo", "best-of-n", "random", "ppo-learned", "sac-learned",
                      "ppo-true", "sac-true")


@pytest.mark.parametrize("name", BUILTIN_ALGORITHMS)
def test_every_builtin_algorithm_resolves_through_its_entry_point(name):
    algorithm = get_algorithm(name)
    assert algorithm.name == name
    assert type(algorithm.run).__module__ != "" and algorithm.fn.__module__.startswith(
        "agents.bench.")
    assert set(algorithm.kinds) <= {"text", "control"} and algorithm.kinds


def test_text_tasks_have_proxy_gold_eval_prompts_and_normalisation():
    text = {n: t for n, t in list_tasks().items() if t.kind == "text"}
    assert {"sentiment", "gao-sentiment", "gao-sentiment-biased", "gao-arithmetic"} <= set(text)
    for task in text.values():
        train = set(task.env.kwargs.get("prompts") or task.env.kwargs["task"].prompts)
        held_out = set(task.options["eval_prompts"])
        assert held_out and not train & held_out
        assert task.normalisation.zero == "best-of-n@start"
        assert task.normalisation.one == "best-of-n"
        assert task.options["best_of_n"] >= 2 and task.gold and task.proxy
        assert task.env.kwargs["gold"] in ("vader", "arithmetic")
    for name in ("gao-sentiment", "gao-sentiment-biased", "gao-arithmetic"):
        assert text[name].prepare is not None and text[name].budget.labels == 2000


def test_control_tasks_normalise_random_to_ppo_on_the_true_reward():
    for name, env_id in [("cartpole", "RLHF-CartPole-v0"), ("pendulum", "RLHF-Pendulum-v0"),
                         ("halfcheetah", "RLHF-HalfCheetah-v0"), ("highway", "RLHF-Highway-v0")]:
        task = get_task(name)
        assert task.env.env_id == env_id and task.budget.labels > 0
        assert (task.normalisation.zero, task.normalisation.one) == ("random", "ppo-true")
        assert task.gold == "true return"


def test_suites_name_registered_tasks_and_algorithms_and_their_references():
    suites = list_suites()
    assert {"quick", "default"} <= set(suites)
    assert get_suite("default").seeds >= 5 and get_suite("quick").budget_scale < 1
    tasks = list_tasks()
    for suite in suites.values():
        assert set(suite.tasks) <= set(tasks)
        assert set(suite.algorithms) <= set(BUILTIN_ALGORITHMS)
        for task in (tasks[t] for t in suite.tasks):
            assert {task.normalisation.one} - {"initial"} <= set(suite.algorithms)
    for options in (get_suite("quick").options or {}).values():
        assert options.get("model") == "tiny-random-llama"


def test_pendulum_150k_is_pendulum_at_the_full_scale_with_the_same_settings():
    long, short = get_task("pendulum-150k"), get_task("pendulum")
    assert (long.budget.steps, long.budget.eval_every, long.budget.labels) == (150_000, 15_000,
                                                                                500)
    assert long.budget.eval_episodes == 10 and long.options["segment_length"] == 25
    assert long.options["ppo"] == short.options["ppo"] and long.env == short.env
    assert "pendulum-150k" in get_suite("control").tasks


def test_highway_runs_only_in_the_control_suite():
    highway = get_task("highway")
    assert highway.kind == "control" and highway.options["segment_length"] == 10
    assert highway.budget.steps == 40_000 and highway.budget.labels == 500
    assert highway.options["ppo"]["gamma"] == 0.8 and highway.options["sac"] is None
    control = get_suite("control")
    assert control.tasks == ("cartpole", "pendulum", "pendulum-150k", "halfcheetah-1m",
                             "highway")
    long = get_task("halfcheetah-1m")
    assert long.budget.steps == 1_000_000 and long.budget.labels == 1000
    assert len(long.budget.eval_steps()) - 1 == 20  # 20 rounds, as bench_control.py's runs
    assert long.options["ppo"] == get_task("halfcheetah").options["ppo"]
    assert set(control.algorithms) == {"ppo-learned", "ppo-true", "random"}
    assert control.seeds == 5 and control.budget_scale == 1.0
    others = [s for name, s in list_suites().items() if name != "control"]
    assert others and all("highway" not in s.tasks for s in others)


def test_rlhf_env_never_imports_agents_nor_torch_for_the_bench_registry():
    code = ("import json, sys, rlhf_env, rlhf_env.bench as b\n"
            "b.list_tasks(); b.list_suites(); b.list_algorithms()\n"
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('agents', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_no_bench_module_imports_agents():
    """(rlhf_env/demo.py and demo_sb3.py import agents lazily: a known, older exception.)"""
    from pathlib import Path

    import rlhf_env.bench

    root = Path(rlhf_env.bench.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if any(line.lstrip().startswith(("import agents", "from agents"))
                        for line in p.read_text(encoding="utf-8").splitlines())]
    assert offenders == []


def test_a_control_variant_changes_only_the_label_budget(synthetic_registered):
    from rlhf_env.bench import Budget, Normalisation
    from rlhf_env.bench.tasks import control_variant
    from rlhf_env.errors import ConfigError

    base = get_task("halfcheetah")
    variant = control_variant("halfcheetah", labels=100)
    assert variant.name == "halfcheetah-labels100" and get_task(variant.name) is variant
    assert variant.budget == Budget(base.budget.steps, base.budget.eval_every,
                                    base.budget.eval_episodes, labels=100)
    assert (variant.env, variant.options, variant.normalisation, variant.kind) == (
        base.env, base.options, base.normalisation, base.kind)
    assert "at most 100 labels" in variant.description and "≤ 100" in variant.proxy
    assert get_task("halfcheetah").budget.labels == 1000  # the base is untouched

    norm = Normalisation("random", "ppo-true", zero_value=-300.0, one_value=800.0)
    small = control_variant(base, budget=Budget(4000, 2000, eval_episodes=1, labels=7),
                            labels=20, normalisation=norm, name="hc-small", register=False)
    assert (small.name, small.budget.steps, small.budget.labels) == ("hc-small", 4000, 20)
    assert small.normalisation == norm and "over 2 rounds" in small.description
    with pytest.raises(Exception, match="hc-small"):
        get_task("hc-small")  # register=False leaves the registry alone
    with pytest.raises(ConfigError, match="labels >= 1"):
        control_variant("halfcheetah", labels=0, register=False)
    with pytest.raises(ConfigError, match="is a text task"):
        control_variant("gao-sentiment", labels=100, register=False)


@pytest.mark.parametrize("module, name, expected", [
    ("pendulum_ensemble", "pend-ens5", {"ensemble_size": 5, "candidates_per_label": 8}),
    ("highway_floor", "hw-floor", {"failure_floor": True}),
    ("highway_floor", "hw-learned", {}),
    ("highway_corrections", "hw-corrections", {"correction_fraction": 0.3}),
    ("highway_lapse", "hw-lapse", {"lapse_rate": 0.1}),
])
def test_the_published_suite_modules_load_and_pass_the_loop_check(tmp_path, module, name,
                                                                   expected):
    """Each module under ``benchmarks/suites/`` (README, diagnosis files) registers its
    suites, and their loop options are ones the learned arm accepts."""
    import runpy
    from pathlib import Path

    from agents.bench.control import _loop_settings
    from rlhf_env.bench import Trial, registry

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "suites" / f"{module}.py"
    before = set(registry._SUITES)
    runpy.run_path(str(path))
    suite = registry._SUITES[name]
    for added in set(registry._SUITES) - before:  # leave no trace
        registry._SUITES.pop(added)
    assert suite.seeds == 5 and suite.algorithms == ("ppo-learned", "ppo-true", "random")[
        :len(suite.algorithms)]
    task = get_task(suite.tasks[0])
    trial = Trial(task=task, algorithm="ppo-learned", seed=0, env=task.env, run_dir=tmp_path,
                  options=(suite.options or {}).get("ppo-learned", {}))
    assert _loop_settings(trial) == expected
