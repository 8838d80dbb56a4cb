"""Benchmark your own algorithm on the RLHF tasks, beside the built-in ones.

    python examples/benchmark_your_algorithm.py            # sentiment task, 3 seeds
    python examples/benchmark_your_algorithm.py --smoke    # tiny model, seconds

An algorithm is a generator ``fn(trial)`` that trains within ``trial.budget`` and yields an
``EvalPoint`` at every ``trial.budget.eval_steps()``; the harness runs it over tasks × seeds,
records every point, and reports it against the built-ins with confidence intervals.

The one here is *best-response search* on the text bandit: it spends its budget of
responses on random answers (from the task's word vocabulary), keeps the one the proxy
reward model liked best, and answers every prompt with it. It sees only the proxy; the
report scores it by the gold judge, which is where a search like this shows how far it
over-fits its proxy. To share it as a plug-in, point an entry point at the function in your
package's ``pyproject.toml``::

    [project.entry-points."rlhf_env.algorithms"]
    best-response = "my_package.search:best_response"

and it runs by name: ``rlhf-env bench run --suite default --algos best-response,random``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator

import numpy as np

from rlhf_env.bench import EvalPoint, Suite, Trial, register_algorithm, run_benchmark
from rlhf_env.bench.evaluation import eval_prompts, make_eval_env, score_text, text_point
from rlhf_env.bench.report import write_report
from rlhf_env.text import text_core


def best_response(trial: Trial) -> Iterator[EvalPoint]:
    """Random search for the single response the proxy scores highest."""
    model = trial.options.get("model", "smollm2-135m-instruct")
    env = trial.make_env(model=model, action_vocab="task", kl_coef=0.0)
    rng = np.random.default_rng(trial.seed)
    best_action, best_score, used = None, -np.inf, 0
    judge = text_core(make_eval_env(trial, model=model, action_vocab="task", kl_coef=0.0))
    prompts = eval_prompts(trial)
    for step in trial.budget.eval_steps():
        while used < step:                      # train: one env episode per response tried
            env.reset(seed=int(rng.integers(2**31)))
            action = rng.integers(0, env.action_space.nvec)
            _, reward, _, _, _ = env.step(action)   # the proxy's score (kl_coef=0)
            used += 1
            if reward > best_score:
                best_action, best_score = action, reward
        if best_action is None:                 # step 0: nothing tried yet, answer at random
            actions = rng.integers(0, env.action_space.nvec, size=(len(prompts), len(
                env.action_space.nvec)))
        else:
            actions = np.repeat(best_action[None], len(prompts), axis=0)
        responses, _ = judge.response_tokens(actions)
        scores = score_text(judge, prompts, judge.decode(responses))
        yield text_point(trial, step, scores, kl=None, tried=float(used))
    env.close()


best_response.kinds = ("text",)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model, a few seconds")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=None, help="runs folder (default: a temp folder)")
    args = parser.parse_args()

    register_algorithm("best-response", best_response)
    tiny = {"model": "tiny-random-llama"}
    suite = Suite(name="my-benchmark", tasks=("sentiment",),
                  algorithms=("best-response", "random"),
                  seeds=2 if args.smoke else args.seeds,
                  budget_scale=1 / 16 if args.smoke else 1.0,
                  options={"best-response": tiny, "random": tiny} if args.smoke else None)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        results = run_benchmark(suite, out=out, workers=1, progress=not args.smoke)
        report = write_report(results, f"{out}/report")
        for run in results.done:
            first, last = run.points[0], run.points[-1]
            print(f"{run.algorithm:14s} seed {run.seed}: gold {first.gold:+.3f} -> "
                  f"{last.gold:+.3f}, proxy {first.proxy:+.3f} -> {last.proxy:+.3f}")
        files = ", ".join(sorted(p.name for p in report.iterdir()))
        print(f"{len(results.done)} runs done, {len(results.failed)} failed; report "
              f"({'kept in ' + str(report) if args.out else 'temp folder'}): {files}")


if __name__ == "__main__":
    main()
