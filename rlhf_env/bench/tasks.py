"""The built-in benchmark tasks (text and control), registered on import.

Text tasks train on ``RLHF-Text-v0``; a step is one sampled response. Each has training
prompts (in the env) and a disjoint, fixed set of evaluation prompts
(``options["eval_prompts"]``), a proxy the agent optimises and a gold judge it is scored by.
The Gao tasks learn their proxy here from synthetic comparisons of the gold judge
(:mod:`rlhf_env.bench.gao`); their ``prepare`` trains it once into the cache folder.
Normalisation: the initial language model's gold = 0 (``best-of-n`` at step 0, which is
best-of-1: one sample of the untrained policy), best-of-n's final gold (n =
``options["best_of_n"]``, on the same evaluation prompts) = 1. Both references come from
the same algorithm's runs; an SB3 bandit policy starts elsewhere (uniform over the task's
words), so its own step-0 gold is not the zero.

========================  ==========================================  =================  ========
task                      proxy (what the agent optimises)            gold judge         budget
========================  ==========================================  =================  ========
``sentiment``             the bundled MiniLM head from ~38k human     VADER compound     256 ep.
                          sentiment ratings
``gao-sentiment``         MiniLM head from 2,000 comparisons by 8     VADER compound     256 ep.
                          noisy annotators following VADER
``gao-sentiment-biased``  as above, annotators biased to longer,      VADER compound     256 ep.
                          confident and flattering answers
``gao-arithmetic``        MiniLM head from 2,000 comparisons,         exact answer       256 ep.
                          annotators biased to confident answers      (verifiable)
========================  ==========================================  =================  ========

Prompts: the 64 bundled ``sentiment`` prompts (48 train, 16 evaluation) for the sentiment
tasks; 128 seeded ``"What is a + b?"`` questions (96 train, 32 evaluation) for arithmetic.

Control tasks train on the fixed-horizon ids of :mod:`rlhf_env.control.envs`; a step is one
env step. The proxy is a reward ensemble learned from at most ``budget.labels`` synthetic
segment comparisons (Boltzmann over true segment returns, 10% slips), the gold is the true
return. Normalisation: the random policy = 0, PPO on the true reward (``ppo-true``) = 1.

=========================  =========================  ========  ======  =========================
task                       env                        steps     labels  reference runs (README)
=========================  =========================  ========  ======  =========================
``cartpole``               ``RLHF-CartPole-v0``       60k       500     PPO true 200, learned 200
``pendulum``               ``RLHF-Pendulum-v0``       100k      500     PPO true −133, learned −149
``pendulum-150k``          ``RLHF-Pendulum-v0``       150k      500     PPO true −133, learned −254
                                                                        (issue 14: a learned seed
                                                                        loses its swing-up late)
``halfcheetah``            ``RLHF-HalfCheetah-v0``    200k      1000    PPO true 842, learned 887
``halfcheetah-1m``         ``RLHF-HalfCheetah-v0``    1M        1000    PPO true 1690, learned 3540
                                                                        (medians of 5 seeds,
                                                                        ``control`` suite)
``highway``                ``RLHF-Highway-v0``        40k       500     PPO true 32.6, learned 29.0
                                                                        (medians of 5 seeds,
                                                                        ``control`` suite)
=========================  =========================  ========  ======  =========================

``highway``, ``pendulum-150k`` and ``halfcheetah-1m`` are in no built-in suite but
``control`` (cartpole, pendulum at 100k and 150k, halfcheetah at 1M and highway ×
``ppo-learned``, ``ppo-true``, ``random``; see :mod:`rlhf_env.bench.suites`). A task's
``options["run"]`` (none set) gives both PPO arms a run-long learning-rate decay or log_std
floor (:mod:`rlhf_env.control.schedules`).

``highway`` is set at 40k steps (eight rounds of 5k), chosen before any highway trial ran:
highway-env simulates its 20 cars in Python (a learned-reward trial at 40k steps took 23–42
min on one core here, with its query collection and evaluations), and PPO on the true
reward reached 32 of 40 by 20k steps in a smoke run (highway-env's own PPO example trains
for 20k).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rlhf_env.bench.gao import Annotators, GaoProxy, arithmetic_prompts
from rlhf_env.bench.protocol import BenchTask, Budget, EnvSpec, Normalisation
from rlhf_env.bench.registry import get_task, register_task
from rlhf_env.errors import ConfigError

GAO_LABELS = 2000
"""N, the comparisons each Gao proxy is trained on."""
BEST_OF_N = 16
"""n of the best-of-n reference that normalises text tasks to 1."""
TEXT_BUDGET = Budget(steps=256, eval_every=32, eval_episodes=32)
"""256 sampled responses, evaluated every 32 (9 points on the curve): what a token-level trial
on SmolLM2 does in ~4 min on one core, so five seeds of every algorithm fit the default suite."""
TEXT_NORMALISATION = Normalisation(zero="best-of-n@start", one="best-of-n")
CONTROL_NORMALISATION = Normalisation(zero="random", one="ppo-true")
ARITHMETIC_WORDS = (*"0123456789", "the", "answer", "is", "it", "definitely", "clearly", ".",
                    "=", "+", "I", "think", "not", "sure")
"""Action words of ``gao-arithmetic``'s restricted vocabulary (single tokens only are kept)."""


def _sentiment_prompts() -> tuple[list[str], list[str]]:
    """The bundled sentiment prompts, split 48 training / 16 evaluation."""
    from rlhf_env.text.prompts import PROMPT_DIR

    lines = (PROMPT_DIR / "sentiment.txt").read_text(encoding="utf-8").splitlines()
    prompts = [p.strip() for p in lines if p.strip()]
    return prompts[:48], prompts[48:]


def _text_task(name: str, description: str, proxy: str, gold: str, env: dict[str, Any],
               eval_prompts: list[str], prepare: Any = None, labels: int = 0,
               **options: Any) -> BenchTask:
    budget = Budget(TEXT_BUDGET.steps, TEXT_BUDGET.eval_every, TEXT_BUDGET.eval_episodes,
                    labels=labels)
    return BenchTask(
        name=name, kind="text", description=description,
        env=EnvSpec("RLHF-Text-v0", {"max_response_tokens": 16, **env}), budget=budget,
        normalisation=TEXT_NORMALISATION, proxy=proxy, gold=gold, prepare=prepare,
        options={"best_of_n": BEST_OF_N, "eval_prompts": tuple(eval_prompts),
                 "action_vocab": "task", **options})


def _sentiment_tasks() -> list[BenchTask]:
    train, held_out = _sentiment_prompts()
    env = {"task": "sentiment", "prompts": train, "gold": "vader"}
    biased = Annotators(length_bias=0.6, confidence_bias=0.3, flattery_bias=0.3)
    return [
        _text_task("sentiment", "Write a short positive message. Proxy: the bundled MiniLM "
                   "head trained on ~38k human sentiment ratings; gold: VADER. 48 training / "
                   "16 evaluation prompts.", "bundled MiniLM sentiment head (human ratings)",
                   "VADER compound", env, held_out),
        _text_task("gao-sentiment", "Gao et al. (2022) protocol on sentiment: 8 noisy "
                   f"annotators (T≈0.3, 5% slips) compare {GAO_LABELS} pairs of generated "
                   "answers by VADER; a MiniLM head trained on them is the proxy; VADER is "
                   "the gold.", f"MiniLM head from {GAO_LABELS} noisy VADER comparisons",
                   "VADER compound", env, held_out, labels=GAO_LABELS,
                   prepare=GaoProxy("gao-sentiment", "vader", tuple(train), "sentiment",
                                    labels=GAO_LABELS).prepare),
        _text_task("gao-sentiment-biased", "As gao-sentiment, but the annotators also prefer "
                   "longer (0.6 per log-character), confident (+0.3 per word) and flattering "
                   "(+0.3 per phrase) answers, so the proxy learns biases VADER does not "
                   "share and diverges from the gold under optimisation.",
                   f"MiniLM head from {GAO_LABELS} length/confidence/flattery-biased "
                   f"comparisons", "VADER compound", env, held_out, labels=GAO_LABELS,
                   prepare=GaoProxy("gao-sentiment-biased", "vader", tuple(train),
                                    "sentiment", labels=GAO_LABELS,
                                    annotators=biased).prepare),
    ]


def _arithmetic_task() -> BenchTask:
    from rlhf_env.text.tasks import Task

    prompts = list(arithmetic_prompts(128, seed=0))
    train, held_out = prompts[:96], prompts[96:]
    text_task = Task(name="arithmetic", prompts=train, reward_model="length", gold="arithmetic",
                     action_words=ARITHMETIC_WORDS,
                     description="answer 'What is a + b?' questions (the bench proxy replaces "
                                 "the placeholder reward model)")
    annotators = Annotators(confidence_bias=0.2)
    return _text_task(
        "gao-arithmetic", "Answer 'What is a op b?' (+, −, × on 1–20). Gao protocol: 8 noisy "
        f"annotators, slightly swayed by confident words, compare {GAO_LABELS} pairs of "
        "template answers by the verifiable gold (1 for the right number first, 0.5/(1+|error|) "
        "for a wrong one, 0 for none); a MiniLM head on them is the proxy. 96 training / 32 "
        "evaluation questions.", f"MiniLM head from {GAO_LABELS} comparisons of answers",
        "exact answer (ArithmeticJudge)", {"task": text_task, "gold": "arithmetic"}, held_out,
        labels=GAO_LABELS,
        prepare=GaoProxy("gao-arithmetic", "arithmetic", tuple(train), "arithmetic",
                         labels=GAO_LABELS, annotators=annotators).prepare)


CONTROL_PPO: dict[str, dict[str, Any]] = {
    "cartpole": {"n_steps": 256, "batch_size": 128, "n_epochs": 10, "gae_lambda": 0.95,
                 "gamma": 0.98, "learning_rate": 1e-3, "ent_coef": 0.0},
    "pendulum": {"n_steps": 1024, "batch_size": 64, "n_epochs": 10, "gae_lambda": 0.95,
                 "gamma": 0.9, "learning_rate": 1e-3, "ent_coef": 0.0, "clip_range": 0.2,
                 "use_sde": True, "sde_sample_freq": 4},
    "halfcheetah": {"n_steps": 512, "batch_size": 64, "n_epochs": 10, "gae_lambda": 0.92,
                    "gamma": 0.98, "learning_rate": 2e-4, "ent_coef": 0.0},
    "highway": {"n_steps": 256, "batch_size": 64, "n_epochs": 10, "gae_lambda": 0.95,
                "gamma": 0.8, "learning_rate": 5e-4, "ent_coef": 0.0},
}
"""PPO settings per control task (those of ``benchmarks/bench_control.py``, from rl-zoo;
highway: the short discount highway-env's own PPO example uses, since a crash is decided a
few seconds ahead)."""
CONTROL_SAC: dict[str, dict[str, Any]] = {
    "pendulum": {"learning_rate": 1e-3},
    "halfcheetah": {"learning_starts": 10_000},
}
"""SAC settings per continuous control task (rl-zoo's; CartPole's actions are discrete)."""


def _control_text(env_id: str, budget: Budget, segment_length: int) -> tuple[str, str]:
    """``(description, proxy)`` of a control task with this budget."""
    rounds = len(budget.eval_steps()) - 1
    return (f"{env_id} from synthetic segment preferences (at most {budget.labels} labels "
            f"over {rounds} rounds, one per evaluation interval; segments of {segment_length} "
            f"steps); gold: true return.",
            f"reward ensemble from ≤ {budget.labels} segment comparisons")


def _control_task(name: str, env_id: str, budget: Budget, segment_length: int,
                  reference: str, settings: str | None = None) -> BenchTask:
    """A control task; ``settings``: the key of its PPO/SAC settings (default ``name``)."""
    description, proxy = _control_text(env_id, budget, segment_length)
    return BenchTask(
        name=name, kind="control", description=f"{description} {reference}",
        env=EnvSpec(env_id), budget=budget, normalisation=CONTROL_NORMALISATION,
        proxy=proxy, gold="true return",
        options={"ppo": CONTROL_PPO[settings or name], "sac": CONTROL_SAC.get(settings or name),
                 "segment_length": segment_length})


def control_variant(base: str | BenchTask, *, labels: int | None = None,
                    budget: Budget | None = None, normalisation: Normalisation | None = None,
                    name: str | None = None, register: bool = True) -> BenchTask:
    """A copy of a control task with another label budget (and optionally another budget or
    normalisation), registered under ``name`` so sweeps can run it by name.

    This is how a label-efficiency curve runs through the harness: one variant per label
    budget (``control_variant("halfcheetah", labels=100)`` is ``halfcheetah-labels100``), every
    trial with its manifest, metrics and ``rlhf-env bench report``. Everything else (env, PPO
    and SAC settings, segment length) is the base task's.

    Args:
        base: a control task or its registered name.
        labels: the new ``budget.labels`` (``None``: ``budget``'s, or the base's).
        budget: a whole new budget (``None``: the base's, with ``labels`` applied).
        normalisation: e.g. one with ``zero_value``/``one_value`` fixed from reference runs
            in another sweep (``None``: the base's).
        name: the variant's name (default ``<base>-labels<N>``).
        register: register it (replacing a task of that name); ``False`` only returns it.
    """
    task = get_task(base)
    if task.kind != "control":
        raise ConfigError(f"control_variant makes variants of control tasks; {task.name!r} is a "
                          f"{task.kind} task (its proxy is prepared for a fixed label count).")
    new_budget = budget or task.budget
    if labels is not None:
        new_budget = replace(new_budget, labels=labels)
    if new_budget.labels < 1:
        raise ConfigError(f"control_variant({task.name!r}): a control task learns its proxy from "
                          f"labels; give labels >= 1, got {new_budget.labels}.")
    description, proxy = _control_text(task.env.env_id, new_budget,
                                       int(task.options.get("segment_length", 25)))
    variant = replace(task, name=name or f"{task.name}-labels{new_budget.labels}",
                      budget=new_budget, proxy=proxy,
                      description=f"{description} Variant of {task.name!r}.",
                      normalisation=normalisation or task.normalisation)
    return register_task(variant, overwrite=True) if register else variant


def _control_tasks() -> list[BenchTask]:
    return [
        _control_task("cartpole", "RLHF-CartPole-v0",
                      Budget(60_000, 6_000, eval_episodes=10, labels=500), 25,
                      "README: PPO true 200, learned 200 (3 seeds)."),
        _control_task("pendulum", "RLHF-Pendulum-v0",
                      Budget(100_000, 10_000, eval_episodes=10, labels=500), 25,
                      "README: PPO true −133, learned −149 at 100k."),
        _control_task("pendulum-150k", "RLHF-Pendulum-v0",
                      Budget(150_000, 15_000, eval_episodes=10, labels=500), 25,
                      "Pendulum at the full scale of benchmarks/bench_control.py (issue 14: "
                      "the learned arm lost its swing-up late in such runs).", settings="pendulum"),
        _control_task("halfcheetah", "RLHF-HalfCheetah-v0",
                      Budget(200_000, 20_000, eval_episodes=5, labels=1000), 50,
                      "README: PPO true 842, learned 887 at 200k (needs mujoco)."),
        _control_task("halfcheetah-1m", "RLHF-HalfCheetah-v0",
                      Budget(1_000_000, 50_000, eval_episodes=5, labels=1000), 50,
                      "HalfCheetah at the budget of Christiano et al.'s MuJoCo runs (issue 14); "
                      "20 rounds as in benchmarks/bench_control.py. README: PPO true 1690, "
                      "learned 3540 (medians of 5 seeds).", settings="halfcheetah"),
        _control_task("highway", "RLHF-Highway-v0",
                      Budget(40_000, 5_000, eval_episodes=10, labels=500), 10,
                      "Scripted expert 33.2, random 9.4 of 40 (needs highway-env). "
                      "README: PPO true 32.6, learned 29.0 (medians of 5 seeds)."),
    ]


for _task in (*_sentiment_tasks(), _arithmetic_task(), *_control_tasks()):
    register_task(_task, overwrite=True)
