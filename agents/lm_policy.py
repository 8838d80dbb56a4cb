"""``CausalLMPolicy``: a Stable-Baselines3 actor-critic policy around a causal language model.

It lets stock SB3 ``PPO`` and ``A2C`` train a language model on ``RLHF-TextToken-v0``::

    from stable_baselines3 import PPO
    from agents.lm_policy import CausalLMPolicy
    model = PPO(CausalLMPolicy, env, policy_kwargs={"model": "tiny-random-llama"})

How ids flow
------------
1. The env's observation is ``{"input_ids", "attention_mask"}``, int64 ``(B, L)``: prompt plus
   response so far, left-padded. SB3 turns it into tensors (its rollout buffer keeps the
   int64 dtype; float tensors are rounded back to integers, so ids survive either way).
2. The ids go to the LM **as token ids** (its embedding layer), never as floats through an
   MLP; the attention mask hides the padding and position ids count real tokens only
   (``cumsum(mask) − 1``), so left padding does not shift positions.
3. One LM forward gives the next-token logits at the last position (the last real token,
   thanks to left padding) and the last hidden state there (the shared trunk).
4. Actor: the logits restricted to the action vocabulary (``action_token_ids``: action ``i``
   means token ``action_token_ids[i]``; the full vocabulary when the action space is as large
   as the tokenizer) feed SB3's categorical distribution. At initialisation the policy is
   exactly the LM's softmax over those tokens.
5. Critic: a linear value head on the same hidden state.

:meth:`CausalLMPolicy.save_pretrained` exports the LM, value head and tokenizer as the same
folder :class:`~agents.token_ppo.PolicyWithValue` writes (:mod:`agents.policy_folder`): plain
transformers / peft load it, and so does ``PolicyWithValue.from_pretrained``. SB3's own
``model.save``/``PPO.load`` stay the way to resume SB3 training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn

from rlhf_env.errors import ConfigError
from rlhf_env.models import load_causal_lm


def token_inputs(obs: PyTorchObs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``input_ids``, ``attention_mask`` (int64) and position ids from an SB3 observation.

    Positions count real tokens (``cumsum(mask) − 1``, clamped at 0 on padding), as in
    generation with left padding.
    """
    if not isinstance(obs, Mapping) or "input_ids" not in obs or "attention_mask" not in obs:
        raise ConfigError("CausalLMPolicy needs Dict observations with 'input_ids' and "
                          "'attention_mask' (use it with RLHF-TextToken-v0).")
    ids, mask = (_as_long(obs[key]) for key in ("input_ids", "attention_mask"))
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, positions


def _as_long(tensor: torch.Tensor) -> torch.Tensor:
    """Integer ids, exactly (float buffers hold ids < 2**24 without loss; round, then cast)."""
    return tensor.round().long() if tensor.is_floating_point() else tensor.long()


def _load_lm(model: Any) -> Any:
    """A causal LM object, or one loaded by bundled name, path or hub id."""
    if isinstance(model, str):
        return load_causal_lm(model)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model must be a causal LM (nn.Module) or a name/path, got "
                          f"{type(model).__name__}.")
    return model


class CausalLMPolicy(ActorCriticPolicy):
    """SB3 ``ActorCriticPolicy`` whose actor is a causal LM and whose critic shares its trunk.

    Args:
        observation_space: ``Dict`` with integer ``input_ids`` / ``attention_mask`` boxes.
        action_space: ``Discrete(A)``: the next token (or its index in a restricted vocabulary).
        lr_schedule: SB3's learning-rate schedule.
        model: the LM (any ``AutoModelForCausalLM``), or a bundled name, local path or hub id
            loaded with :func:`rlhf_env.models.load_causal_lm`. Default: the bundled
            SmolLM2-135M-Instruct. A passed model is trained in place and its
            ``requires_grad`` flags are kept (frozen base weights under LoRA stay frozen), so
            do not pass the env's reference model object: pass a copy.
        action_token_ids: token id of each action index, for a restricted action vocabulary.
            ``None``: taken from the action space (``RLHF-TextToken-v0``'s
            ``action_space.token_ids``), else action ``i`` is token ``i``.
        **kwargs: the usual ``ActorCriticPolicy`` arguments (optimizer class and kwargs are
            used; ``net_arch``, ``activation_fn`` and ``ortho_init`` do not apply).
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Schedule, model: Any = "smollm2-135m-instruct",
                 action_token_ids: Sequence[int] | None = None, **kwargs: Any) -> None:
        if not isinstance(action_space, spaces.Discrete):
            raise ConfigError(f"CausalLMPolicy picks one token per step: it needs a Discrete "
                              f"action space, got {type(action_space).__name__}.")
        if action_token_ids is None:
            action_token_ids = getattr(action_space, "token_ids", None)
        # _build (called by the parent constructor) reads these; an nn.Module cannot be
        # assigned before nn.Module.__init__, so the model waits in a plain list.
        self._pending = [model]
        self._token_ids = None if action_token_ids is None else [int(t) for t in action_token_ids]
        self._model_name = model if isinstance(model, str) else None
        kwargs.setdefault("ortho_init", False)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    # -- construction -----------------------------------------------------------------------
    def _build(self, lr_schedule: Schedule) -> None:
        """The LM trunk, the action-vocabulary index, the value head and the optimizer."""
        self.lm = _load_lm(self._pending.pop())
        n_actions = int(self.action_space.n)  # type: ignore[attr-defined]
        vocab = int(self.lm.get_output_embeddings().weight.shape[0])
        self.register_buffer("action_token_ids", self._action_index(n_actions, vocab))
        self._check_ids_fit(int(self.lm.get_input_embeddings().weight.shape[0]))
        hidden = int(self.lm.get_input_embeddings().weight.shape[1])
        self.value_net = nn.Linear(hidden, 1)
        nn.init.zeros_(self.value_net.weight)
        nn.init.zeros_(self.value_net.bias)
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _action_index(self, n_actions: int, vocab: int) -> torch.Tensor | None:
        """Token id per action as a long tensor, or ``None`` when action ``i`` is token ``i``."""
        ids = self._token_ids
        if ids is None:
            if n_actions > vocab:
                raise ConfigError(
                    f"the action space has {n_actions} actions but the LM only {vocab} output "
                    f"tokens; pass policy_kwargs={{'action_token_ids': [...]}} for a restricted "
                    f"vocabulary, or a model that shares the env's tokenizer.")
            return None if n_actions == vocab else torch.arange(n_actions)
        if len(ids) != n_actions:
            raise ConfigError(f"action_token_ids has {len(ids)} entries for {n_actions} "
                              f"actions; give one token id per action index.")
        bad = [t for t in ids if not 0 <= t < vocab]
        if bad:
            raise ConfigError(f"action_token_ids {bad[:3]} are outside the LM's vocabulary "
                              f"[0, {vocab - 1}].")
        return torch.tensor(ids, dtype=torch.long)

    def _check_ids_fit(self, embeddings: int) -> None:
        """The observation's largest token id must index the LM's embedding table."""
        space = getattr(self.observation_space, "spaces", {}).get("input_ids")
        if space is None:
            raise ConfigError("CausalLMPolicy needs a Dict observation space with 'input_ids' "
                              "and 'attention_mask' (use it with RLHF-TextToken-v0).")
        high = int(np.max(space.high))
        if high >= embeddings:
            raise ConfigError(
                f"the env's token ids go up to {high} but the LM has {embeddings} embeddings: "
                f"the policy model must share the env's tokenizer (pass policy_kwargs="
                f"{{'model': <the env's model>}}).")

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(model=self._model_name or self.lm, action_token_ids=self._token_ids)
        return data

    def save_pretrained(self, folder: str | Path, tokenizer: Any) -> Path:
        """Export the LM (full weights, or LoRA adapters), the value head and ``tokenizer``
        (the env's) as a policy folder; the action vocabulary is recorded in
        ``rlhf_env_policy.json`` as ``action_token_ids`` (``None``: every token)."""
        from agents.policy_folder import base_model_source, save_policy_folder

        lm = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm
        index: Any = self.action_token_ids
        return save_policy_folder(
            folder, lm=self.lm, value_head=self.value_net, tokenizer=tokenizer,
            base_model=base_model_source(self._model_name, lm),
            metadata={"action_token_ids": None if index is None else index.tolist()})

    # -- the shared trunk -------------------------------------------------------------------
    def extract_features(  # type: ignore[override]
            self, obs: PyTorchObs, features_extractor: Any = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One LM forward: action logits ``(B, A)`` and last hidden state ``(B, H)``."""
        ids, mask, positions = token_inputs(obs)
        out = self.lm(input_ids=ids, attention_mask=mask, position_ids=positions,
                      output_hidden_states=True, logits_to_keep=1, use_cache=False)
        logits = out.logits[:, -1, :].float()
        index: Any = self.action_token_ids
        logits = logits if index is None else logits.index_select(-1, index)
        return logits, out.hidden_states[-1][:, -1, :].float()

    def _distribution(self, logits: torch.Tensor) -> Distribution:
        return self.action_dist.proba_distribution(action_logits=logits)

    # -- SB3 API ----------------------------------------------------------------------------
    def forward(self, obs: PyTorchObs, deterministic: bool = False,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (or take the most likely) action; return actions, values, log-probs."""
        logits, hidden = self.extract_features(obs)
        dist = self._distribution(logits)
        actions = dist.get_actions(deterministic=deterministic)
        return actions, self.value_net(hidden), dist.log_prob(actions)

    def evaluate_actions(self, obs: PyTorchObs, actions: torch.Tensor,
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Values, log-probs of ``actions`` and entropy, for the PPO / A2C losses."""
        logits, hidden = self.extract_features(obs)
        dist = self._distribution(logits)
        return self.value_net(hidden), dist.log_prob(actions), dist.entropy()

    def get_distribution(self, obs: PyTorchObs) -> Distribution:
        """The categorical next-token distribution (used by ``predict`` via ``_predict``)."""
        return self._distribution(self.extract_features(obs)[0])

    def predict_values(self, obs: PyTorchObs) -> torch.Tensor:
        """``V(obs)`` from the value head on the last hidden state."""
        return self.value_net(self.extract_features(obs)[1])


__all__ = ["CausalLMPolicy", "token_inputs"]
