"""Checkpoints of the preference-learning loop: pickle-free, verified, never half-written.

A checkpoint folder holds, per save, four data files tagged with the round:

    agent-<tag>.safetensors         the SB3 agent's parameters and optimizer states
                                    (``get_parameters()``) plus its step counters
    reward_model-<tag>.safetensors  the reward ensemble's ``state_dict``
    segments-<tag>.npz              the segment bank (``allow_pickle=False``)
    feedback-<tag>.jsonl            the comparisons so far
    state.json                      loop state, config, and the SHA-256 of each file above
    state.prev.json                 the previous save's ``state.json``

The data files are written (atomically) before ``state.json``, which is replaced last: a
save is complete once ``state.json`` names it, and the previous save's files are deleted
only after that. Loading checks every file's SHA-256; a missing or corrupt file makes it
use the previous save (with a warning). The agent is rebuilt from the saved algorithm name
and keyword arguments and gets its parameters back; nothing is unpickled, so a crafted
checkpoint cannot run code (SB3's ``agent.zip`` is never loaded).
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

from rlhf_env.checkpoints import file_sha256, load_state, save_state
from rlhf_env.errors import CheckpointError, ConfigError, NoCheckpointError
from rlhf_env.files import read_json, write_bytes, write_json, write_text
from rlhf_env.numerics import check_parameters

FORMAT = "rlhf-env-loop/2"
STATE = "state.json"
PREVIOUS = "state.prev.json"
_DATA = re.compile(r"^(agent|reward_model|segments|feedback)-[\w-]+\.(safetensors|npz|jsonl)$")


def agent_state(agent: Any) -> dict[str, Any]:
    """An SB3 agent's learnable state as plain tensors and numbers (no pickles)."""
    _, variables = agent._get_torch_save_params()
    return {
        "parameters": agent.get_parameters(),
        "variables": {name: _attr(agent, name).detach() for name in variables},
        "num_timesteps": int(agent.num_timesteps),
        "n_updates": int(getattr(agent, "_n_updates", 0)),
        "episode_num": int(getattr(agent, "_episode_num", 0)),
    }


def restore_agent(agent: Any, state: dict[str, Any]) -> None:
    """Put :func:`agent_state` output back into an agent built with the same settings."""
    import torch

    agent.set_parameters(state["parameters"], exact_match=True, device=agent.device)
    with torch.no_grad():
        for name, value in state["variables"].items():
            _attr(agent, name).copy_(value)
    agent.num_timesteps = int(state["num_timesteps"])
    agent._n_updates = int(state["n_updates"])
    agent._episode_num = int(state["episode_num"])


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def write_checkpoint(loop: Any, directory: str | Path) -> Path:
    """Save ``loop`` into ``directory`` (see the module docstring)."""
    from dataclasses import asdict

    check_parameters(loop.ensemble, "preference loop (reward model)")
    check_parameters(loop.agent.policy, "preference loop (agent)")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    tag = f"r{loop.state.round:04d}-{os.urandom(3).hex()}"
    files = {
        "agent": f"agent-{tag}.safetensors",
        "reward_model": f"reward_model-{tag}.safetensors",
        "segments": f"segments-{tag}.npz",
        "feedback": f"feedback-{tag}.jsonl",
    }
    save_state(path / files["agent"], agent_state(loop.agent), "sb3-agent")
    save_state(path / files["reward_model"], loop.ensemble.state_dict(), "reward-ensemble")
    buffer = io.BytesIO()
    loop.bank.save(buffer)
    write_bytes(path / files["segments"], buffer.getvalue())
    write_text(path / files["feedback"], "".join(
        json.dumps(r.to_dict(), ensure_ascii=False, allow_nan=False) + "\n"
        for r in loop.records))
    state = {"format": FORMAT, "env_id": loop.env_id, "algorithm": loop.algorithm,
             "algorithm_kwargs": _json_or_none(loop.algorithm_kwargs),
             "config": asdict(loop.config), **asdict(loop.state),
             "files": {k: {"name": v, "sha256": file_sha256(path / v)} for k, v in files.items()}}
    current = path / STATE
    if current.exists():
        write_bytes(path / PREVIOUS, current.read_bytes())
    write_json(current, state, indent=1)  # written last: the save is complete from here on
    _prune(path)
    return path


def _json_or_none(kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The algorithm's keyword arguments when JSON can hold them exactly, else ``None``
    (then :meth:`~rlhf_env.control.loop.PreferenceLearningLoop.resume` needs them again)."""
    try:
        text = json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return kwargs if json.loads(text) == kwargs else None


def _prune(path: Path) -> None:
    """Delete data files that neither ``state.json`` nor ``state.prev.json`` names."""
    keep = set()
    for name in (STATE, PREVIOUS):
        saved = read_json(path / name, default=None)
        if isinstance(saved, dict):
            keep |= {f["name"] for f in saved.get("files", {}).values()}
    for child in path.iterdir():
        base = child.name.removesuffix(".prev")
        if _DATA.match(base) and child.name not in keep:
            child.unlink(missing_ok=True)


def read_checkpoint(directory: str | Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """The newest verified save in ``directory``: its state and its data files."""
    path = Path(directory)
    saved = read_json(path / STATE, default=None)
    if (path / "agent.zip").exists() and (not isinstance(saved, dict) or "files" not in saved):
        raise CheckpointError(
            f"{path} holds a checkpoint of an older rlhf-env (agent.zip, reward_model.pt: "
            f"pickles, which can run code when loaded, so they are not read). Start a new "
            f"run, or load it with the rlhf-env version that wrote it.")
    if not (path / STATE).exists() and not (path / PREVIOUS).exists():
        raise NoCheckpointError(f"{path} holds no checkpoint (no state.json); run the loop "
                                "with checkpoint_dir= first.")
    problems = []
    for name in (STATE, PREVIOUS):
        try:
            state, files = _verified(path, name)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        if problems:
            warnings.warn(f"{problems[0]}; resuming from the previous save ({name}).",
                          RuntimeWarning, stacklevel=2)
        return state, files
    raise CheckpointError(f"no usable checkpoint in {path}: " + "; ".join(problems))


def _verified(path: Path, name: str) -> tuple[dict[str, Any], dict[str, Path]]:
    try:
        state = read_json(path / name)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path / name} is not a loop checkpoint of format {FORMAT}.")
    files = {}
    for key, entry in state["files"].items():
        file = path / entry["name"]
        if not file.is_file():
            raise CheckpointError(f"{file} is missing")
        if file_sha256(file) != entry["sha256"]:
            raise CheckpointError(f"{file} is corrupt (its checksum does not match)")
        files[key] = file
    return state, files


def load_reward_model(file: Path) -> Any:
    """The reward ensemble ``state_dict`` of a save."""
    return load_state(file, "reward-ensemble")


def load_agent_state(file: Path) -> Any:
    """The :func:`agent_state` of a save."""
    return load_state(file, "sb3-agent")


__all__ = ["FORMAT", "agent_state", "load_agent_state", "load_reward_model", "read_checkpoint",
           "restore_agent", "write_checkpoint"]
