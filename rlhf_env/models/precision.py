"""Run a frozen model (a KL reference, a reward model's encoder) at a lower precision.

Frozen models only run forward passes, so they can trade a little accuracy for speed:

* ``"float32"``: as loaded; the reference point of every error below.
* ``"bfloat16"``: every weight and activation in bfloat16 (``model.to(torch.bfloat16)``).
  On CPUs with bfloat16 matrix units (AVX512-BF16, AMX: recent Xeons) and on GPUs this is
  the faster and the more accurate choice. A first measurement on a 2-core AMX Xeon (one
  thread, forwards of 16 short texts or 32 text pairs, timed while the machine was shared:
  load average ~4.5; ``benchmarks/bench_env.py`` measures the env): SmolLM2-135M forward 2.7x
  faster, per-token log-prob error 0.08 nats on average (1.3 at most); the MiniLM sentiment
  reward model 2.2x faster, score error 0.009 on average (0.03 at most, scores spread with
  std 1.4). On CPUs without those units bfloat16 matrix products are emulated and can be
  slower than float32: measure first.
* ``"int8"``: dynamic int8 quantisation of every ``nn.Linear`` (weights per output channel,
  activations per batch; ``torch.ao.quantization.quantize_dynamic``), embeddings left in
  float32. Faster than float32 on any x86 CPU (~1.9x for both models in the same
  measurement), but its error is large on these models: 1.4 nats per token on average for
  SmolLM2 (outlier activations), 0.24 on the reward score. Prefer ``"bfloat16"`` where the
  CPU supports it. (PyTorch has deprecated ``torch.ao.quantization`` in favour of
  ``torchao``; it still ships in 2.x.)

The conversion never touches the model given to :func:`frozen_copy` (unless asked to), so a
policy and its reference, or several envs, can share one loaded float model.

>>> import torch
>>> from rlhf_env.models import tiny_encoder
>>> encoder = tiny_encoder()
>>> fast = frozen_copy(encoder, "bfloat16")
>>> model_precision(fast), model_precision(encoder)
('bfloat16', 'float32')
"""

from __future__ import annotations

import copy as copy_module
import warnings
from typing import Any

from rlhf_env.errors import ConfigError
from rlhf_env.validation import check_choice

PRECISIONS = ("float32", "bfloat16", "int8")
"""The precisions a frozen model can run at (see the module docstring)."""


def check_precision(name: str, value: Any) -> str:
    """``value`` when it is one of :data:`PRECISIONS`, else a :class:`ConfigError` naming
    ``name``."""
    return str(check_choice(name, value, PRECISIONS))


def frozen_copy(model: Any, precision: str, *, copy: bool = True) -> Any:
    """``model`` frozen (eval mode, no gradients) and running at ``precision``.

    ``copy=True`` (the default) converts a deep copy and leaves ``model`` as it was;
    ``copy=False`` converts ``model`` itself (for a model loaded just for this). With
    ``"float32"`` the weights are kept as they are (a copy of them with ``copy=True``).
    A model converted this way can no longer be trained.
    """
    precision = check_precision("precision", precision)
    if copy:
        model = _deepcopy_as(model, "bfloat16" if precision == "bfloat16" else None)
    model.eval().requires_grad_(False)
    if precision == "bfloat16":
        import torch

        model.to(torch.bfloat16)
    elif precision == "int8":
        model = _quantize_int8(model)
    return model


def _deepcopy_as(model: Any, dtype_name: str | None) -> Any:
    """A deep copy of ``model`` whose floating-point tensors are made directly in
    ``dtype_name`` (``None``: as they are), so no full-precision copy exists on the way;
    tied weights stay tied."""
    if dtype_name is None:
        return copy_module.deepcopy(model)
    import torch

    dtype = getattr(torch, dtype_name)
    memo: dict[int, Any] = {}
    for tensor in [*model.parameters(), *model.buffers()]:
        if id(tensor) in memo:
            continue
        new = tensor.detach().to(dtype) if tensor.is_floating_point() else tensor.detach().clone()
        if isinstance(tensor, torch.nn.Parameter):
            new = torch.nn.Parameter(new, requires_grad=False)
        memo[id(tensor)] = new
    return copy_module.deepcopy(model, memo)


def _quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantisation of every ``nn.Linear`` of ``model``, in place."""
    import torch

    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as exc:  # a future torch without the eager-mode API
        raise ConfigError("precision='int8' needs torch.ao.quantization, which this torch "
                          "no longer ships; use precision='bfloat16' instead.") from exc
    if next(model.parameters()).device.type != "cpu":
        raise ConfigError("precision='int8' runs on the CPU only (dynamic quantisation has no "
                          "GPU kernels); use 'bfloat16' on a GPU.")
    with warnings.catch_warnings():  # torch.ao's deprecation notice, on every call
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                inplace=True)


def model_precision(model: Any) -> str:
    """The precision ``model`` runs at: ``"int8"`` when it holds dynamically quantised linear
    layers, else the dtype name of its first floating-point parameter (``"float32"``,
    ``"bfloat16"``, ``"float16"`` …)."""
    for module in model.modules():
        if _is_dynamic_int8(module):
            return "int8"
    for param in model.parameters():
        if param.is_floating_point():
            return str(param.dtype).removeprefix("torch.")
    return "float32"


def _is_dynamic_int8(module: Any) -> bool:
    try:
        from torch.ao.nn.quantized.dynamic import Linear
    except ImportError:
        return False
    return isinstance(module, Linear)
