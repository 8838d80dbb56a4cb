"""The built-in suites (``quick``, ``default``, ``control``, ``overopt``, ``sac``), registered on
import.

===========  ==========================================  ===============================  =====
suite        tasks                                       algorithms                       seeds
===========  ==========================================  ===============================  =====
``quick``    sentiment, gao-sentiment-biased,            every text algorithm, random,    2
             gao-arithmetic, cartpole                    ppo-learned, ppo-true
``default``  all seven tasks                             every algorithm but sac-*        5
``sac``      pendulum, halfcheetah                       sac-learned, sac-true,           5
                                                         ppo-true, random
``control``  cartpole, pendulum, pendulum-150k,          ppo-learned, ppo-true, random    5
             halfcheetah-1m, highway
``overopt``  gao-sentiment-biased, gao-arithmetic        token-ppo-grpo at β = 0,         3
                                                         best-of-n with n = 64
===========  ==========================================  ===============================  =====

``quick`` runs 1/16 of each budget (text: 32 episodes, evaluated every 8; cartpole: 3,750
env steps) with the tiny random Llama as the policy, so it checks the whole pipeline in
minutes, not the algorithms. Measured on the shared 2-core machine, one torch thread, seed
0: text trials 0.2–12 s each (best-of-n and sb3-ppo-token slowest); cartpole ppo-learned
69 s (ten reward refits), ppo-true 10 s, random < 1 s; each Gao proxy's one-time
``prepare`` 17–52 s (2,000 labels on real MiniLM; cached afterwards). The whole suite, two
seeds, one process: about 6–7 min.

``default`` runs the full budgets with SmolLM2-135M-Instruct; run its trials in parallel
processes (``--workers 2 --threads 1`` on 2 cores). Its finished run (README;
``benchmarks/results/bench_default``) took 12.6 trial-hours on one thread each, over
sessions that shared the machine: per trial, token-level 5–17 min (median), best-of-16 1–4
min, SB3 bandit and random seconds, the 45 control trials 46 min on 2 workers. About 4.5–6
hours on 2 quiet cores. ``control`` (README; ``benchmarks/results/bench_control``): 75
trials, 8.5 trial-hours on one thread each, most of it HalfCheetah at 1M (learned 20–23
min, true 11–13) and Highway (learned 23–42 min, true 18–22); about 4.5 h on 2 workers.
SAC has its own suite because it needs continuous actions
(CartPole's are discrete). Every suite includes the normalisation references of its tasks
(``best-of-n``, ``random``, ``ppo-true``; the text tasks' 0 is every run's step-0 gold).
"""

from __future__ import annotations

from typing import Any

from rlhf_env.bench.registry import Suite, register_suite

TEXT_ALGORITHMS = ("sb3-ppo", "sb3-a2c", "sb3-ppo-token", "token-ppo-gae", "token-ppo-rloo",
                   "token-ppo-grpo", "best-of-n", "random")
DEFAULT_TEXT_ALGORITHMS = tuple(a for a in TEXT_ALGORITHMS if a != "sb3-ppo-token")
"""Stock SB3 PPO with ``CausalLMPolicy`` is left out of the default suite: on SmolLM2 it runs
~0.03 responses/s on one core (57x slower than the token-level trainer on the tiny model,
README), so one 256-response trial would take over two hours. It runs in ``quick`` (tiny
model) and in any suite that names it."""
CONTROL_ALGORITHMS = ("ppo-learned", "ppo-true")
TINY = "tiny-random-llama"

_TINY_TOKEN_PPO: dict[str, Any] = {"model": TINY, "batch_size": 8, "minibatch_size": 4,
                                   "lora_r": 0, "learning_rate": 1e-4}

QUICK_OPTIONS: dict[str, dict[str, Any]] = {
    "sb3-ppo": {"model": TINY, "num_envs": 4},
    "sb3-a2c": {"model": TINY, "num_envs": 4},
    "sb3-ppo-token": {"model": TINY, "num_envs": 4, "sb3": {"n_steps": 8, "batch_size": 16}},
    "token-ppo-gae": _TINY_TOKEN_PPO,
    "token-ppo-rloo": _TINY_TOKEN_PPO,
    "token-ppo-grpo": _TINY_TOKEN_PPO,
    "best-of-n": {"model": TINY},
    "random": {"model": TINY},
}

register_suite(Suite(
    name="quick",
    tasks=("sentiment", "gao-sentiment-biased", "gao-arithmetic", "cartpole"),
    algorithms=(*TEXT_ALGORITHMS, *CONTROL_ALGORITHMS), seeds=2, budget_scale=1 / 16,
    options=QUICK_OPTIONS,
    description="Smoke run of the whole pipeline in minutes: 1/16 budgets, tiny random "
                "policy model, 2 seeds.",
), overwrite=True)

register_suite(Suite(
    name="default",
    tasks=("sentiment", "gao-sentiment", "gao-sentiment-biased", "gao-arithmetic",
           "cartpole", "pendulum", "halfcheetah"),
    algorithms=(*DEFAULT_TEXT_ALGORITHMS, *CONTROL_ALGORITHMS), seeds=5,
    description="The benchmark: full budgets, SmolLM2-135M-Instruct, 5 seeds; run trials in "
                "parallel processes.",
), overwrite=True)

register_suite(Suite(
    name="control",
    tasks=("cartpole", "pendulum", "pendulum-150k", "halfcheetah-1m", "highway"),
    algorithms=(*CONTROL_ALGORITHMS, "random"), seeds=5,
    description="Every control task, driving included, with PPO on the learned and on the "
                "true reward and the random policy (the normalisation references).",
), overwrite=True)

OVEROPT_OPTIONS: dict[str, dict[str, Any]] = {
    "token-ppo-grpo": {"kl_coef": 0.0},
    "best-of-n": {"best_of_n": 64},
}
"""``overopt`` removes the leash: no KL penalty (so the trainer also skips its reference pass;
the evaluation still measures KL to the start) and four times the responses, so the policy
travels far enough from its start for Gao et al.'s RL peak to have room; best-of-64 takes
reranking to 3.2 nats. Its normalised scores use best-of-64 as 1, not the default suite's
best-of-16.

``gao-arithmetic`` was added after the first run: on ``gao-sentiment-biased`` the gold
(VADER) saturated near its ceiling of 1 while the proxy kept rising, because the annotators'
biases there (length, confident words, flattering phrases such as "great question") do not
pull against VADER. On arithmetic they do: the annotators are swayed by confident wording,
which a MiniLM proxy can reward while it cannot check the sum."""

register_suite(Suite(
    name="overopt",
    tasks=("gao-sentiment-biased", "gao-arithmetic"),
    algorithms=("token-ppo-grpo", "best-of-n"), seeds=3, budget_scale=4.0,
    options=OVEROPT_OPTIONS,
    description="Over-optimisation: two Gao tasks with no KL penalty and 4x the responses "
                "(1,024), beside best-of-64; gold and proxy against sqrt(KL).",
), overwrite=True)

register_suite(Suite(
    name="sac",
    tasks=("pendulum", "halfcheetah"),
    algorithms=("sac-learned", "sac-true", "ppo-true", "random"), seeds=5,
    description="SAC on the continuous control tasks, with their normalisation references.",
), overwrite=True)
