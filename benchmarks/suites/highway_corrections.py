"""Issue 14's corrections experiment: the ``highway`` task's learned arm with 30% of every
round's labels spent on corrections (a synthetic corrector takes over from the scripted
expert where the agent's action loses return; each takeover is replayed into a
corrected ≻ original pair), against the ``control`` suite's highway learned arm, which
spends the whole budget on preferences. Same task, budget, seeds and labels::

    PYTHONPATH=benchmarks/suites rlhf-env bench run --suite hw-corrections \\
        --import highway_corrections --workers 2 --threads 1 --out runs
    rlhf-env bench run --suite control --tasks highway --workers 2 --threads 1 --out runs
    rlhf-env bench report runs --out REPORT   # ppo-learned@control vs ppo-learned@hw-corrections

Result (five seeds, commit 96a6b1f; ``benchmarks/results/bench_hw_corrections``): normalised
IQM 0.63 [0.05, 0.86] against 0.83 for preferences alone, P(corrections > preferences) 0.28:
on this budget corrections did not help (``control_highway_diagnosis.md``, part 5).
"""

from rlhf_env.bench import Suite, register_suite

register_suite(Suite(
    name="hw-corrections", tasks=("highway",), algorithms=("ppo-learned",), seeds=5,
    options={"ppo-learned": {"loop": {"correction_fraction": 0.3}}},
    description="highway; the learned arm spending 30% of its labels on corrections"),
    overwrite=True)
