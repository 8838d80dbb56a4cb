"""A causal language model with a scalar value head, and its frozen reference.

The value head reads the LM's last hidden state at the position that predicts a token, so
``values[:, t]`` estimates the return from the state *before* response token ``t``.

The reference policy (for the KL penalty) is either a frozen deep copy of the initial model
or, with LoRA, the same model with its adapters disabled: then policy and reference share
every frozen base weight and the reference costs no extra memory. ``reference_precision``
(``"bfloat16"``, ``"int8"``) runs the reference at a lower precision for speed
(:func:`rlhf_env.models.frozen_copy`); with LoRA that needs a converted copy of the base
model, so it then costs the memory of that copy.

Dropout is never switched on: the model stays in ``eval`` mode during updates, so the
log-probs of the generation pass and of the training forward describe the same policy.

:meth:`PolicyWithValue.save_pretrained` / :meth:`PolicyWithValue.from_pretrained` write and
read a folder that plain transformers / peft also load (layout in :mod:`agents.policy_folder`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rlhf_env.errors import ConfigError, MissingDependencyError, ModelLoadError
from rlhf_env.models.precision import check_precision, frozen_copy
from rlhf_env.quiet import quiet_hf


@dataclass
class LMStep:
    """One incremental forward during generation: last-position logits/values and the cache."""

    logits: torch.Tensor
    """``(B, V)`` raw next-token logits."""
    values: torch.Tensor
    """``(B,)`` value estimates of the current state."""
    cache: Any
    """The KV cache to pass to the next step."""


def _hidden_size(lm: Any) -> int:
    config = lm.config.get_text_config() if hasattr(lm.config, "get_text_config") else lm.config
    return int(config.hidden_size)


def vocab_size(lm: Any) -> int:
    """Rows of the LM's input embedding (its usable vocabulary)."""
    return int(lm.get_input_embeddings().weight.shape[0])


def _apply_lora(lm: Any, r: int, alpha: int, targets: tuple[str, ...]) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise MissingDependencyError("peft", "LoRA (lora_r > 0)") from exc
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=list(targets), lora_dropout=0.0,
                        bias="none", task_type="CAUSAL_LM")
    with quiet_hf():  # peft reads a property transformers 5 deprecated (a FutureWarning)
        return get_peft_model(lm, config)


def _is_peft(lm: Any) -> bool:
    return isinstance(getattr(lm, "peft_config", None), dict) and hasattr(lm, "disable_adapter")


class PolicyWithValue(nn.Module):
    """``lm`` (any ``AutoModelForCausalLM``) + a linear value head + the reference policy.

    ``reference``: ``None`` builds the default (adapters disabled with LoRA, else a frozen
    copy of ``lm`` as it is now); or pass another causal LM with the same vocabulary.
    ``lm`` may already carry peft LoRA adapters (then ``lora_*`` are not used).
    ``base_model``: the bundled name, folder or hub id ``lm`` was loaded from, recorded by
    :meth:`save_pretrained` (LoRA adapters need it to load again); ``None``: ``lm``'s own
    ``name_or_path``. ``tokenizer``: saved with the policy. ``reference_precision``:
    ``"float32"``, ``"bfloat16"`` or ``"int8"``, the precision the reference runs at (a given
    ``reference`` is converted as a copy).
    """

    def __init__(self, lm: Any, *, lora_r: int = 0, lora_alpha: int = 16,
                 lora_target_modules: tuple[str, ...] = ("q_proj", "v_proj"),
                 reference: Any = None, seed: int = 0, base_model: str | None = None,
                 tokenizer: Any = None, reference_precision: str = "float32") -> None:
        from agents.policy_folder import base_model_source

        super().__init__()
        lm.eval()
        already = _is_peft(lm)
        self.uses_lora = lora_r > 0 or already
        self.base_model = base_model_source(base_model, lm.get_base_model() if already else lm)
        self.tokenizer = tokenizer
        self.reference_precision = check_precision("reference_precision", reference_precision)
        self.reference = _build_reference(lm, reference, self.uses_lora, reference_precision)
        self.lm = _apply_lora(lm, lora_r, lora_alpha, lora_target_modules) \
            if self.uses_lora and not already else lm
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.value_head = nn.Linear(_hidden_size(lm), 1)
            nn.init.normal_(self.value_head.weight, std=1e-3)
            nn.init.zeros_(self.value_head.bias)
        self.value_head.to(next(lm.parameters()).device)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimizer updates (LoRA adapters and value head, or all)."""
        return [p for name, p in self.named_parameters()
                if p.requires_grad and not name.startswith("reference.")]

    def lm_step(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                positions: torch.Tensor, cache: Any) -> LMStep:
        """Incremental forward for generation (call under ``no_grad``)."""
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask,
                      position_ids=positions, past_key_values=cache, use_cache=True,
                      output_hidden_states=True, logits_to_keep=1)
        values = self.value_head(out.hidden_states[-1][:, -1].float()).squeeze(-1)
        return LMStep(out.logits[:, -1], values, out.past_key_values)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                positions: torch.Tensor, n_response: int, group_size: int = 1,
                with_values: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, R, V)`` predicting the ``R = n_response`` last tokens, and values
        ``(B, R)`` of the states before them (with grad). ``with_values=False`` (critic-free
        estimators) skips the hidden states and the value head and returns ``None`` values.

        ``group_size`` ``g`` > 1: the prompts come in consecutive groups of ``g`` identical
        rows (see :meth:`reference_logits`); each prompt runs once and gradients from the
        whole group flow back through its shared keys and values.
        """
        if group_size > 1:
            logits, hidden = _shared_prompt_pass(self.lm, input_ids, attention_mask, positions,
                                                 n_response, group_size, hidden=with_values)
        else:
            out = self.lm(input_ids=input_ids, attention_mask=attention_mask,
                          position_ids=positions, output_hidden_states=with_values,
                          logits_to_keep=n_response + 1)
            logits = out.logits[:, :-1]
            hidden = out.hidden_states[-1][:, -(n_response + 1):-1] if with_values else None
        if hidden is None:
            return logits, None
        return logits, self.value_head(hidden.float()).squeeze(-1)

    @torch.no_grad()
    def reference_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         positions: torch.Tensor, n_response: int,
                         group_size: int = 1) -> torch.Tensor:
        """Reference logits ``(B, R, V)`` for the ``R`` last tokens.

        ``group_size`` ``g`` > 1 promises that the rows' prompts (all but the last ``R``
        columns) come in consecutive groups of ``g`` identical rows (see
        :func:`~agents.token_ppo.generation.shared_group_size`): the prompt then runs once per
        group and its KV cache is shared, and only the response tokens run per row.
        """
        with self.reference_model() as ref:
            if group_size > 1:
                return _shared_prompt_pass(ref, input_ids, attention_mask, positions,
                                           n_response, group_size)[0]
            out = ref(input_ids=input_ids, attention_mask=attention_mask,
                      position_ids=positions, logits_to_keep=n_response + 1)
        return out.logits[:, :-1]

    # -- folders --------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path, *, tokenizer: Any = None,
                        metadata: dict[str, Any] | None = None) -> Path:
        """Write the LM (full weights, or only the LoRA adapters), the value head, the
        tokenizer (``tokenizer`` or :attr:`tokenizer`) and ``rlhf_env_policy.json``
        (``metadata`` is added to it) to ``folder``; an earlier save there is replaced.
        The reference model is not saved: it is the base model (LoRA) or the initial one."""
        from agents.policy_folder import save_policy_folder

        return save_policy_folder(folder, lm=self.lm, value_head=self.value_head,
                                  tokenizer=tokenizer if tokenizer is not None else self.tokenizer,
                                  base_model=self.base_model, metadata=metadata)

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, base_model: str | Path | None = None,
                        reference: Any = None, dtype: Any = None, device: Any = None,
                        reference_precision: str = "float32") -> PolicyWithValue:
        """Load a folder written by :meth:`save_pretrained`, with its tokenizer as
        :attr:`tokenizer`.

        LoRA adapters go back onto their recorded base model (trainable; the reference is
        the base with adapters off, as in training); ``base_model`` points at it when it has
        moved (a recorded folder that has gone raises at once, saying so). Full weights load
        from the folder, and the reference is then a frozen copy of the loaded policy unless
        ``reference`` is given. ``reference_precision`` as in the constructor.
        """
        from agents.policy_folder import load_policy_lm, load_value_head_state, read_policy_folder
        from rlhf_env.models import load_tokenizer

        saved = read_policy_folder(folder)
        lm = load_policy_lm(saved, base_model=base_model, dtype=dtype, device=device)
        base = str(base_model) if base_model is not None else (
            None if saved.base_model is None else saved.base_model.location)
        policy = cls(lm, reference=reference, base_model=base if saved.lora else None,
                     tokenizer=load_tokenizer(str(saved.path)),
                     reference_precision=reference_precision)
        if saved.lora is None:  # the folder itself is the model now
            policy.base_model = saved.base_model
        try:
            policy.value_head.load_state_dict(load_value_head_state(saved))
        except RuntimeError as exc:
            raise ModelLoadError(f"{saved.path}: the value head does not fit the model "
                                 f"({exc}); the folder is damaged, save it again.") from None
        return policy.to(next(lm.parameters()).device)

    @contextlib.contextmanager
    def reference_model(self) -> Iterator[Any]:
        """The reference LM for the block: the frozen copy, or (with LoRA) this model with its
        adapters disabled — so do not sample the policy inside the block."""
        if self.reference is not None:
            yield self.reference
            return
        with self.lm.disable_adapter():
            yield self.lm


def _shared_prompt_pass(lm: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        positions: torch.Tensor, n_response: int, group_size: int, *,
                        hidden: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits ``(B, R, V)`` (and last hidden states ``(B, R, H)`` when ``hidden``) predicting
    the last ``R`` tokens, running each group's shared prompt once.

    The prompt (all but the last ``R`` columns) of every ``g``-th row is run with a KV cache;
    its last-position output predicts the first response token of the whole group, and the
    cache, repeated ``g`` times, is the context of every row's own ``R − 1`` response tokens.
    Equal to the unshared pass up to float rounding; differentiable through the cache.
    """
    g, split = group_size, input_ids.shape[1] - n_response
    head = lm(input_ids=input_ids[::g, :split], attention_mask=attention_mask[::g, :split],
              position_ids=positions[::g, :split], use_cache=True, logits_to_keep=1,
              output_hidden_states=hidden)
    logits = head.logits[:, -1:].repeat_interleave(g, 0)
    states = head.hidden_states[-1][:, -1:].repeat_interleave(g, 0) if hidden else None
    if n_response > 1:
        cache = head.past_key_values
        cache.batch_repeat_interleave(g)
        rest = lm(input_ids=input_ids[:, split:-1], attention_mask=attention_mask[:, :-1],
                  position_ids=positions[:, split:-1], past_key_values=cache, use_cache=True,
                  output_hidden_states=hidden)
        logits = torch.cat([logits, rest.logits], dim=1)
        if states is not None:
            states = torch.cat([states, rest.hidden_states[-1]], dim=1)
    return logits, states


def _build_reference(lm: Any, reference: Any, uses_lora: bool, precision: str) -> Any:
    """The frozen reference model, or ``None`` for "``lm`` with its adapters disabled"
    (LoRA at float32: shares every weight with the policy)."""
    if reference is not None:
        _check_same_vocab(lm, reference)
        if precision == "float32":
            return reference.eval().requires_grad_(False)
        return frozen_copy(reference, precision)
    if not uses_lora:
        return frozen_copy(lm, precision)  # a deep copy of the initial policy
    if precision == "float32":
        return None
    if _is_peft(lm):  # the base model alone: a copy with the adapters taken out
        return frozen_copy(copy.deepcopy(lm).unload(), precision, copy=False)
    return frozen_copy(lm, precision)


def _check_same_vocab(lm: Any, reference: Any) -> None:
    if vocab_size(reference) != vocab_size(lm):
        raise ConfigError(
            f"the reference model has a vocabulary of {vocab_size(reference)} tokens but the "
            f"policy has {vocab_size(lm)}; per-token KL needs both to share one tokenizer. "
            f"Pass a reference of the policy's model family, or none (a frozen copy of the "
            f"initial policy).")
