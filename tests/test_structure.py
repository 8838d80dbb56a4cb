"""scripts/check_structure.py: the repository passes it, and each check can fail."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_structure.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_structure", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load()


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_repository_has_the_promised_shape() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no problems" in proc.stdout


def test_cycles_are_found_and_deferred_imports_are_not_edges(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "rlhf_env/__init__.py": "",
        "rlhf_env/a.py": "from rlhf_env import b\n",
        "rlhf_env/b.py": "from rlhf_env.c import thing\n",
        "rlhf_env/c.py": "import rlhf_env.a\n",
        "rlhf_env/d.py": "def f():\n    from rlhf_env import e\n",
        "rlhf_env/e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                         "    from rlhf_env import d\n",
        "agents/__init__.py": "",
        "tests/agents/.keep": "",
    })
    top, _ = check.import_graph(check.modules(root))
    assert check.cycles(top) == [["rlhf_env.a", "rlhf_env.b", "rlhf_env.c"]]
    assert top["rlhf_env.d"] == set() and top["rlhf_env.e"] == set()


def test_env_package_importing_agents_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "rlhf_env/__init__.py": "",
        "rlhf_env/x.py": "def f():\n    from agents.sb3 import make_ppo\n",
        "rlhf_env/cli.py": "def demo():\n    from agents.demos import run_demo\n",
        "rlhf_env/text/__init__.py": "",
        "rlhf_env/text/big.py": "x = 1\n" * 501,
        "agents/__init__.py": "",
        "agents/sb3/__init__.py": "",
        "agents/demos/__init__.py": "",
        "tests/agents/demos/.keep": "",
        "tests/text/.keep": "",
    })
    found = check.problems(root)
    assert any(p.startswith("rlhf_env.x imports agents.sb3") for p in found)
    # even the command line's lazy import counts: the demos come through entry points
    assert any(p.startswith("rlhf_env.cli imports agents.demos") for p in found)
    assert any("rlhf_env/text/big.py has 501 lines" in p for p in found)
    assert "package agents/sb3/ has no test folder tests/agents/sb3/" in found
    assert len(found) == 4, found
