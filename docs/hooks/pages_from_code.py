"""MkDocs hook: the parts of the site that are generated from the code at build time.

A page asks for generated content with one line of its own::

    <!-- generated: env RLHF-Text-v0 -->   the env's page body (docs/hooks/envpages.py)
    <!-- generated: cli -->                the CLI reference (docs/hooks/clipage.py)
    <!-- generated: metrics -->            the shared metric table (rlhf_env.metrics)
    <!-- generated: config PATH -->        a config dataclass's fields, defaults, docstrings
    <!-- generated: bench -->              the benchmark's tasks, algorithms and suites

so the docs and the code cannot drift. The hook also checks that every registered
``RLHF-…`` id has a page (``docs/envs/<id>.md``) that asks for its body, and warns (an error
under ``mkdocs build --strict``) when one does not.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from benchpage import bench_page  # noqa: E402  (sibling modules, found through the line above)
from clipage import cli_page  # noqa: E402
from envpages import config_table, env_page  # noqa: E402
from rstmd import log  # noqa: E402

MARKER = re.compile(r"^<!-- generated: (\w+)(?: (\S+))? -->$", re.M)


def registered_env_ids() -> list[str]:
    import gymnasium as gym

    import rlhf_env  # noqa: F401  (registers the ids)

    return [env_id for env_id in gym.registry if env_id.startswith("RLHF-")]


def env_page_path(env_id: str) -> str:
    return f"envs/{env_id}.md"


def metrics_table() -> str:
    from rlhf_env.metrics import METRICS, metric_key

    rows = [f"| `{metric_key(name)}` | {m.meaning} | {m.unit} |" for name, m in METRICS.items()]
    return "\n".join(["| logged as | meaning | unit |", "|---|---|---|", *rows])


GENERATORS: dict[str, Any] = {"env": env_page, "cli": cli_page, "metrics": metrics_table,
                              "config": config_table, "bench": bench_page}


def expand(markdown: str, where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        kind, arg = match.group(1), match.group(2)
        generator = GENERATORS.get(kind)
        if generator is None:
            log.warning("%s: unknown generated block %r (known: %s)", where, kind,
                        ", ".join(GENERATORS))
            return ""
        return str(generator(arg) if arg else generator())
    return MARKER.sub(replace, markdown)


def on_files(files: Any, config: Any) -> Any:
    for env_id in registered_env_ids():
        path = env_page_path(env_id)
        page = files.get_file_from_path(path)
        if page is None:
            log.warning("the registered env %s has no page: add docs/%s with the line "
                        "'<!-- generated: env %s -->' and put it in mkdocs.yml's nav",
                        env_id, path, env_id)
        elif f"<!-- generated: env {env_id} -->" not in page.content_string:
            log.warning("docs/%s does not contain '<!-- generated: env %s -->'", path, env_id)
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return expand(markdown, page.file.src_uri)
