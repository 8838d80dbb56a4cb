"""The demo runs behind ``rlhf-env demo``: token-level PPO of SmolLM2 (the main job) and the
first, stock-SB3 demo. They live with the learners they drive; the env package never
imports them (the CLI loads :func:`run_demo` lazily)."""

from __future__ import annotations

from agents.demos.token_ppo import DemoConfig, run_demo

__all__ = ["DemoConfig", "run_demo"]
