"""Issue 14's next Highway comparison: the ``highway`` task's learned arm with a reward model
whose likelihood takes 10% of labels to be coin flips (``LoopConfig.lapse_rate=0.1``, the
value Christiano et al. 2017 use), against the ``control`` suite's highway learned arm
(plain Bradley–Terry). Same task, budget, seeds and labels::

    PYTHONPATH=benchmarks/suites rlhf-env bench run --suite hw-lapse --import highway_lapse \\
        --workers 2 --threads 1 --out runs
    rlhf-env bench run --suite control --tasks highway --algos ppo-learned \\
        --workers 2 --threads 1 --out runs
    rlhf-env bench compare runs/hw-lapse runs/control

Written before it ran, while the ``control`` suite's five highway learned seeds were still
running: the only evidence so far is one seed's round-by-round trace
(``benchmarks/results/control_highway_diagnosis.md``: final gold 27.9 with the lapse term
against 25.4 without). Highway's labels are noisy (held-out accuracy 0.6–0.7), which is
where a lapse term should matter most. ``lapse_rate`` stays 0 by default whatever this
shows until the whole ``control`` suite has been run with it: the issue asks for one
setting kept for every task.
"""

from rlhf_env.bench import Suite, register_suite

register_suite(Suite(
    name="hw-lapse", tasks=("highway",), algorithms=("ppo-learned",), seeds=5,
    options={"ppo-learned": {"loop": {"lapse_rate": 0.1}}},
    description="highway; the learned arm's reward likelihood with a 10% lapse rate"),
    overwrite=True)
