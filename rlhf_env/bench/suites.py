"""The built-in suites (``quick``, ``default``), registered on import."""

from __future__ import annotations
