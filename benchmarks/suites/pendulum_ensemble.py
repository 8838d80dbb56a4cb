"""Issue 14's Pendulum variant: ``pendulum-150k`` with the reward-side setting the Pendulum
diagnosis (``benchmarks/results/control_pendulum_diagnosis.md``) found best on three seeds, a
5-member reward ensemble choosing each query from 8 candidate pairs (defaults: 3 and 4),
for the learned arm; the true arm and random are the normalisation references. The
setting was chosen before this five-seed run::

    PYTHONPATH=benchmarks/suites rlhf-env bench run --suite pend-ens5 \\
        --import pendulum_ensemble --workers 1 --threads 1 --out runs
    rlhf-env bench report runs/pend-ens5 --out benchmarks/results/bench_pendulum150k_ens5
"""

from rlhf_env.bench import Suite, register_suite

register_suite(Suite(
    name="pend-ens5", tasks=("pendulum-150k",),
    algorithms=("ppo-learned", "ppo-true", "random"), seeds=5,
    options={"ppo-learned": {"loop": {"ensemble_size": 5, "candidates_per_label": 8}}},
    description="pendulum-150k; the learned arm with a 5-member reward ensemble and 8 "
                "candidate pairs per label"), overwrite=True)
