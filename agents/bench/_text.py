"""What the text algorithms share: the policy model, env building and LM evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.token_ppo import SamplingTransform, generate
from rlhf_env.bench import EvalPoint, Trial
from rlhf_env.bench.evaluation import (
    eval_prompts,
    make_eval_env,
    score_text,
    sequence_logprobs,
    text_env_overrides,
    text_point,
)
from rlhf_env.errors import ConfigError
from rlhf_env.models import eos_token_id
from rlhf_env.text import text_core
from rlhf_env.text.spaces import left_pad

DEFAULT_MODEL = "smollm2-135m-instruct"
MAX_RESPONSE_TOKENS = 16


def check_text(trial: Trial, name: str) -> None:
    if trial.task.kind != "text":
        raise ConfigError(f"{name} runs text tasks; {trial.task.name!r} is a "
                          f"{trial.task.kind} task.")


def model_name(trial: Trial) -> str:
    """The policy model of the trial (``options["model"]``, else SmolLM2-135M-Instruct)."""
    return str(trial.options.get("model", DEFAULT_MODEL))


def response_tokens(trial: Trial) -> int:
    return int(trial.options.get("max_response_tokens",
                                 trial.env.kwargs.get("max_response_tokens", MAX_RESPONSE_TOKENS)))


def env_kwargs(trial: Trial, **extra: Any) -> dict[str, Any]:
    """The task's env kwargs with the trial's model/length options and ``extra`` applied."""
    return {**trial.env.kwargs, **text_env_overrides(trial, model=model_name(trial)), **extra}


def load_policy_lm(trial: Trial) -> Any:
    from rlhf_env.models import load_causal_lm

    return load_causal_lm(model_name(trial), seed=trial.seed)


@dataclass
class LMEvaluator:
    """Samples the evaluation prompts from an LM policy (temperature 1, full vocabulary),
    scores proxy and gold, and estimates KL to a reference LM."""

    trial: Trial
    core: Any
    prompts: list[str]
    prompt_ids: list[Any]
    max_new_tokens: int

    @classmethod
    def build(cls, trial: Trial) -> LMEvaluator:
        tokens = response_tokens(trial)
        core = text_core(make_eval_env(trial, model=model_name(trial), action_vocab=None,
                                       kl_coef=0.0, max_response_tokens=tokens))
        prompts = eval_prompts(trial)
        index = {p: i for i, p in enumerate(core.prompts)}
        ids = [core.encode_prompt(index[p])[0] for p in prompts]
        return cls(trial, core, prompts, ids, tokens)

    def sample(self, sampler: Any, seed: int) -> tuple[list[str], list[Any], np.ndarray]:
        """Texts, token ids (up to EOS) and policy log-probs ``(n,)`` of one answer each."""
        tok = self.core.tokenizer
        ids, mask = (torch.from_numpy(a) for a in left_pad(self.prompt_ids, tok.pad_token_id))
        gen = generate(sampler, ids, mask, max_new_tokens=self.max_new_tokens,
                       eos_id=eos_token_id(tok), transform=SamplingTransform(),
                       generator=torch.Generator().manual_seed(seed))
        tokens, keep = gen.tokens.numpy(), gen.mask.numpy()
        responses = [t[m] for t, m in zip(tokens, keep, strict=True)]
        logp = (gen.logprobs * gen.mask).sum(-1).double().numpy()
        return self.core.decode(responses), responses, logp

    def point(self, step: int, sampler: Any, reference: Any, **extra: float) -> EvalPoint:
        """Evaluate ``sampler`` (anything with ``lm_step``) against ``reference``: an LM, or
        a function giving a context manager that yields one (a LoRA policy's
        ``reference_model``, which disables its adapters: entered only after sampling)."""
        texts, responses, logp = self.sample(sampler, self.trial.eval_seed)
        pad = int(self.core.tokenizer.pad_token_id)
        if isinstance(reference, torch.nn.Module):
            ref = sequence_logprobs(reference, self.prompt_ids, responses, pad)
        else:
            with reference() as lm:
                ref = sequence_logprobs(lm, self.prompt_ids, responses, pad)
        scores = score_text(self.core, self.prompts, texts)
        kl = float(np.mean(logp - ref))
        return text_point(self.trial, step, scores, kl=kl, labels_used=self.trial.budget.labels,
                          **extra)
