"""A least-recently-used cache of text embeddings.

RL re-scores the same texts often (repeated prompts, collapsed policies, evaluation sets), so
a frozen encoder never has to embed a text twice. Keys are the tuple of texts the encoder
sees (``(response,)`` or ``(prompt, response)``); values are float32 vectors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence

import numpy as np

from rlhf_env.errors import ConfigError


class EmbeddingCache:
    """LRU map from text keys to embedding vectors, holding at most ``max_size`` entries."""

    def __init__(self, max_size: int = 10_000) -> None:
        if max_size < 0:
            raise ConfigError(f"cache size must be >= 0 (0 disables it), got {max_size!r}.")
        self.max_size = max_size
        self._data: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def lookup(self, keys: Sequence[Hashable]) -> tuple[list[np.ndarray | None], list[int]]:
        """Cached vectors (``None`` where missing) and the positions that are missing."""
        found: list[np.ndarray | None] = []
        missing: list[int] = []
        for i, key in enumerate(keys):
            vec = self._data.get(key)
            if vec is None:
                missing.append(i)
                self.misses += 1
            else:
                self._data.move_to_end(key)
                self.hits += 1
            found.append(vec)
        return found, missing

    def put(self, key: Hashable, vector: np.ndarray) -> None:
        """Store one vector, evicting the least recently used entries beyond ``max_size``."""
        if self.max_size == 0:
            return
        self._data[key] = vector
        self._data.move_to_end(key)
        while len(self._data) > self.max_size:
            self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry (call when the encoder's weights change)."""
        self._data.clear()
