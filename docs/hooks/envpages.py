"""The body of an env's page, generated from the registry and the code's docstrings.

Text envs are classes whose docstrings follow Gymnasium's template (``## Description``,
``## Action Space`` … ``## Example``): the page is that docstring, plus a table of the
config dataclass its ``## Arguments`` section names (field, default, the field's docstring).
The control envs are one factory, :func:`rlhf_env.control.envs.make_control_env`, so their
pages are built from the registry entry, the env itself (its spaces), the control module's
docstring and the factory's ``Args:``.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec, load_env_creator
from rstmd import cell, log, to_markdown

GYMNASIUM_DOCS = "https://gymnasium.farama.org/environments"
SECTION = re.compile(r"^## (.+)$", re.M)
ROLE_TARGET = re.compile(r'identifier="([\w.]+)"')


def absolute(name: str) -> str | None:
    """Role targets in env docstrings are full paths (``~rlhf_env.errors.PromptError``)."""
    return name if "." in name else None


def env_page(env_id: str) -> str:
    """The generated Markdown of ``env_id``'s page (below its hand-written intro)."""
    spec = gym.spec(env_id)
    creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) \
        else spec.entry_point
    if inspect.isclass(creator):
        return class_page(spec, creator)
    from rlhf_env.control.envs import make_control_env

    if creator is make_control_env:
        return control_page(spec)
    log.warning("no page generator for %s (entry point %s): teach docs/hooks/envpages.py "
                "how to document it", env_id, spec.entry_point)
    return ""


def registration(spec: EnvSpec) -> str:
    rows = [("id", f"`{spec.id}`"), ("entry point", f"`{spec.entry_point}`")]
    if spec.vector_entry_point:
        rows.append(("vector entry point", f"`{spec.vector_entry_point}` "
                     f"(`gym.make_vec(\"{spec.id}\", num_envs=N)`)"))
    if spec.kwargs:
        rows.append(("registered kwargs", ", ".join(f"`{k}={v!r}`"
                                                    for k, v in spec.kwargs.items())))
    rows.append(("max_episode_steps", f"`{spec.max_episode_steps}`"))
    return facts(rows)


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(map(cell, cells)) + " |"
    return "\n".join([row(head), "|" + "---|" * len(head), *map(row, rows)])


def facts(rows: list[tuple[str, str]]) -> str:
    """Name/value pairs as a list (a table would need a header row)."""
    return "\n".join(f"- **{name}**: {value}" for name, value in rows)


# -- classes with a Gymnasium-template docstring ----------------------------------------


def class_page(spec: EnvSpec, cls: type) -> str:
    doc = to_markdown(inspect.getdoc(cls) or "", absolute)
    summary, *rest = SECTION.split(doc)
    parts = [summary.strip(), "## Registration", registration(spec)]
    for title, body in zip(rest[::2], rest[1::2], strict=True):
        parts += [f"## {title}", body.strip()]
        if title.strip() == "Arguments":
            parts += [config_table(target) for target in ROLE_TARGET.findall(body)
                      if is_dataclass_path(target)]
    return "\n\n".join(p for p in parts if p)


def is_dataclass_path(path: str) -> bool:
    return class_node(path) is not None


def class_node(path: str) -> ast.ClassDef | None:
    """The ``@dataclass`` class at ``path`` as parsed from its module's source (nothing is
    imported but the parent packages), or ``None`` when it is not one."""
    module, _, name = path.rpartition(".")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name and any(
                "dataclass" in ast.unparse(d) for d in node.decorator_list):
            return node
    return None


def config_table(path: str) -> str:
    """Every field of the dataclass at ``path``: name, default and the field's docstring."""
    node = class_node(path)
    if node is None:
        log.warning("%s is not a dataclass that docs/hooks/envpages.py can read", path)
        return ""
    rows = [(f"`{name}`", default, to_markdown(doc, absolute))
            for name, default, doc in dataclass_fields(node)]
    return (f"Every field of `{path}`:\n\n"
            + table(("field", "default", "meaning"), rows))


def dataclass_fields(node: ast.ClassDef) -> list[tuple[str, str, str]]:
    """``(name, default as written, docstring)`` of each annotated field, in order."""
    body = node.body
    found = []
    for i, item in enumerate(body):
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
            continue
        if "ClassVar" in ast.unparse(item.annotation):
            continue
        after = body[i + 1] if i + 1 < len(body) else None
        doc = ""
        if (isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            doc = inspect.cleandoc(after.value.value)
        found.append((item.target.id, _default(item.value), doc))
    return found


def _default(value: ast.expr | None) -> str:
    if value is None:
        return "required"
    if isinstance(value, ast.Call) and ast.unparse(value.func) in ("field", "dataclasses.field"):
        for keyword in value.keywords:
            if keyword.arg == "default":
                return f"`{ast.unparse(keyword.value)}`"
            if keyword.arg == "default_factory":
                return f"`{ast.unparse(keyword.value)}()`"
        return "required"
    return f"`{ast.unparse(value)}`"


# -- the fixed-horizon control ids --------------------------------------------------------


def control_page(spec: EnvSpec) -> str:
    from rlhf_env.control import envs

    base_id = spec.kwargs["base_id"]
    env = gym.make(spec.id)
    try:
        spaces = facts([("action space", f"`{env.action_space}`"),
                        ("observation space", f"`{env.observation_space}`")])
    finally:
        env.close()
    summary, body = _split_summary(to_markdown(inspect.getdoc(envs) or "", absolute))
    body, history, example = _split_control_doc(body)
    parts = [summary, "## Registration", registration(spec),
             "## Underlying task", underlying(base_id, spec),
             "## Spaces", spaces + "\n\nThe spaces are the underlying task's; "
             f"[Gymnasium's page]({gymnasium_page(base_id)}) says what each dimension means.",
             _demote(body),
             "## Arguments", factory_arguments(spec),
             "## Version History", history, "## Example", example]
    return "\n\n".join(p for p in parts if p)


def underlying(base_id: str, spec: EnvSpec) -> str:
    from rlhf_env.control.envs import FAILURE_OBSERVATIONS, make_control_env

    absorbing = inspect.signature(make_control_env).parameters["absorbing_reward"].default
    absorbing = spec.kwargs.get("absorbing_reward", absorbing)
    failure = FAILURE_OBSERVATIONS.get(base_id)
    return facts([
        ("task", f"[`{base_id}`]({gymnasium_page(base_id)})"),
        ("horizon", f"{spec.kwargs['horizon']} steps, every episode"),
        ("true reward after a failure", f"`{absorbing}` per step"),
        ("observation after a failure", f"`{failure}` (fixed)" if failure is not None
         else "the last observation, frozen"),
    ])


def gymnasium_page(base_id: str) -> str:
    """The Gymnasium documentation page of a built-in task (from its entry point)."""
    entry = str(gym.spec(base_id).entry_point)
    module, _, cls = entry.partition(":")
    category = module.split(".")[2] if module.startswith("gymnasium.envs.") else ""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.removesuffix("Env")).lower()
    return f"{GYMNASIUM_DOCS}/{category}/{name}/"


def _split_summary(doc: str) -> tuple[str, str]:
    summary, _, body = doc.partition("\n\n")
    return summary.strip(), body.strip()


def _split_control_doc(body: str) -> tuple[str, str, str]:
    """The module docstring's prose, its ``Version history: …`` line and its example."""
    history = ""
    match = re.search(r"^Version history: (.+)$", body, re.M)
    if match:
        history = f"* {match.group(1).strip()}"
        body = body[:match.start()] + body[match.end():]
    example = ""
    match = re.search(r"^```pycon\n.*?^```$", body, re.M | re.S)
    if match:
        example, body = match.group(0), body[:match.start()] + body[match.end():]
    return body.strip(), history, example


def _demote(body: str) -> str:
    """Setext headings (``Title`` over ``-----``) as ``## Title``."""
    return re.sub(r"^(\S[^\n]*)\n-{3,}$", r"## \1", body, flags=re.M)


def factory_arguments(spec: EnvSpec) -> str:
    from rlhf_env.control.envs import make_control_env

    params = inspect.signature(make_control_env).parameters
    described = google_args(inspect.getdoc(make_control_env) or "")
    rows = []
    for name, text in described.items():
        default: Any = spec.kwargs.get(name, params[name].default if name in params else None)
        shown = "—" if default is inspect.Parameter.empty else f"`{default!r}`"
        if name in spec.kwargs:
            shown += " (registered)"
        rows.append((f"`{name}`", shown, to_markdown(text, absolute).replace("\n", " ")))
    return ("Keyword arguments of `gym.make(\"" + spec.id + "\", ...)`, from "
            "`rlhf_env.control.envs.make_control_env`:\n\n"
            + table(("argument", "default", "meaning"), rows))


def google_args(doc: str) -> dict[str, str]:
    """``name → description`` from a Google-style ``Args:`` section."""
    match = re.search(r"^Args:\n((?:[ \t]+\S.*\n?|\n)+)", doc, re.M)
    if not match:
        return {}
    found: dict[str, str] = {}
    current = None
    lines = match.group(1).splitlines()
    item_indent = min(len(x) - len(x.lstrip()) for x in lines if x.strip())
    for line in lines:
        indent = len(line) - len(line.lstrip())
        item = re.match(r"\s*(\*{0,2}\w+)(?: \(.*?\))?: (.*)", line)
        if item and indent == item_indent:
            current = item.group(1).lstrip("*")
            found[current] = item.group(2)
        elif current and line.strip():
            found[current] += " " + line.strip()
    return found
