"""The package as a whole: a cheap import, the registered ids, the CLI and the error hierarchy."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

import rlhf_env
from rlhf_env import errors
from rlhf_env.models import BUNDLED


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_import_is_light_and_registers_the_env():
    out = _run(
        "import json, sys, rlhf_env, gymnasium as gym\n"
        "print(json.dumps({'heavy': sorted({'torch', 'transformers'} & set(sys.modules)),"
        " 'registered': 'RLHF-Text-v0' in gym.registry,"
        " 'entry': gym.registry['RLHF-Text-v0'].entry_point}))"
    )
    result = json.loads(out)
    assert result["heavy"] == []
    assert result["registered"] is True
    assert isinstance(result["entry"], str)  # a string entry point: nothing heavy imported
    assert result["entry"].startswith("rlhf_env.")


def test_registration_is_idempotent():
    import gymnasium as gym

    from rlhf_env._registration import register_envs

    before = gym.registry["RLHF-Text-v0"]
    register_envs()
    assert gym.registry["RLHF-Text-v0"] is before


def test_cli_lists_the_bundled_models():
    out = _run("from rlhf_env.cli import main; main(['models'])")
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(BUNDLED)
    assert "vocab 49,152" in lines[0]


def test_cli_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "rlhf_env.cli", "models"],
                          capture_output=True, text=True, check=True, timeout=120)
    assert "smollm2-135m-instruct" in proc.stdout and "all-minilm-l6-v2" in proc.stdout


def _error_classes() -> list[type[BaseException]]:
    return [obj for _, obj in inspect.getmembers(errors, inspect.isclass)
            if issubclass(obj, BaseException) and obj.__module__ == errors.__name__]


def test_every_error_subclasses_the_base():
    classes = _error_classes()
    assert len(classes) >= 10
    for cls in classes:  # warnings have their own base class
        base = errors.RLHFEnvWarning if issubclass(cls, Warning) else errors.RLHFEnvError
        assert issubclass(cls, base), cls
    assert issubclass(errors.ChanceLevelWarning, UserWarning)


@pytest.mark.parametrize(("cls", "builtin"), [
    (errors.ConfigError, ValueError),
    (errors.MissingDependencyError, ImportError),
    (errors.ModelLoadError, OSError),
    (errors.CacheError, OSError),
    (errors.UnknownNameError, KeyError),
    (errors.CheckError, AssertionError),
])
def test_errors_are_also_the_builtin_users_expect(cls, builtin):
    assert issubclass(cls, builtin)


def test_public_errors_are_exported_from_the_package():
    for name in ("RLHFEnvError", "ConfigError", "ModelLoadError", "UnknownNameError",
                 "MissingDependencyError"):
        assert getattr(rlhf_env, name) is getattr(errors, name)


def test_unknown_name_error_reads_as_a_sentence():
    err = errors.UnknownNameError("task", "sentimnt", ["sentiment", "length"], hint="See docs.")
    expected = ("unknown task 'sentimnt'. Did you mean 'sentiment'? "
                "Known tasks: length, sentiment. See docs.")
    assert str(err) == expected
    assert err.message == expected
    with pytest.raises(KeyError) as info:
        raise err
    assert str(info.value) == expected  # not the repr() KeyError would print


def test_unknown_name_error_without_close_names():
    err = errors.UnknownNameError("task", "zzz", [])
    assert str(err) == "unknown task 'zzz'. Known tasks: (none)."


def test_missing_dependency_error_names_the_command():
    err = errors.MissingDependencyError("pandas", "the CSV export")
    assert str(err) == ("the CSV export needs the package 'pandas', which is not installed. "
                        "Install it with `pip install pandas`.")
    assert err.install == "pip install pandas"
