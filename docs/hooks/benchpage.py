"""The benchmark's tasks, algorithms and suites, generated from its registry.

The same registry ``rlhf-env bench list`` prints, so the page lists what a user's install
actually offers (plug-in algorithms from the ``rlhf_env.algorithms`` entry-point group too).
"""

from __future__ import annotations

import importlib.metadata

from envpages import table


def bench_page() -> str:
    from rlhf_env.bench.registry import (
        ALGORITHM_GROUP,
        get_algorithm,
        list_algorithms,
        list_suites,
        list_tasks,
    )

    tasks = [(f"`{name}`", t.kind, f"{t.budget.steps:,}", t.proxy, t.gold)
             for name, t in sorted(list_tasks().items())]
    entry = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ALGORITHM_GROUP)}
    algorithms = [(f"`{name}`", "/".join(get_algorithm(name).kinds),
                   f"`{entry[name]}`" if name in entry else "registered in Python")
                  for name in list_algorithms()]
    suites = [(f"`{name}`", ", ".join(s.tasks), ", ".join(s.algorithms), str(s.seeds),
               f"×{s.budget_scale:g}", s.description)
              for name, s in sorted(list_suites().items())]
    return "\n\n".join([
        "### Tasks", table(("task", "kind", "budget (steps)", "proxy", "gold"), tasks),
        "### Algorithms", table(("algorithm", "task kinds", "entry point"), algorithms),
        "### Suites", table(("suite", "tasks", "algorithms", "seeds", "budget", "what for"),
                            suites),
    ])
