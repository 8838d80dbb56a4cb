"""Issue 14's Highway diagnosis: the ``highway`` task's learned arm with and without
``LoopConfig.failure_floor`` (the crashed state's learned reward capped at the lowest learned
reward of any other state the loop has seen). A 20k-step smoke run had found the learned
reward scoring crowded driving below the crash, so that crashing paid; the cap targets
exactly that. Two suites so that the arms land in separate folders::

    PYTHONPATH=benchmarks/suites rlhf-env bench run --suite hw-learned --import highway_floor \\
        --workers 1 --threads 1 --seeds 1 --out runs
    PYTHONPATH=benchmarks/suites rlhf-env bench run --suite hw-floor --import highway_floor \\
        --workers 1 --threads 1 --seeds 1 --out runs
"""

from rlhf_env.bench import Suite, register_suite

register_suite(Suite(
    name="hw-learned", tasks=("highway",), algorithms=("ppo-learned",), seeds=5,
    description="highway; the learned arm as the task defines it (no failure floor)"),
    overwrite=True)
register_suite(Suite(
    name="hw-floor", tasks=("highway",), algorithms=("ppo-learned",), seeds=5,
    options={"ppo-learned": {"loop": {"failure_floor": True}}},
    description="highway; the learned arm with the crashed state's learned reward capped at "
                "the lowest learned reward of the other states seen"), overwrite=True)
