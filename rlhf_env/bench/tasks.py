"""The built-in benchmark tasks (text and control), registered on import."""

from __future__ import annotations
