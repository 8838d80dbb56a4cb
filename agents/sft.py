"""Supervised fine-tuning (SFT) on demonstrations: the optional first stage before PPO.

The loop is load → encode → split → train → evaluate, each a short function:

1. :func:`load_demonstrations` turns a :class:`~rlhf_env.feedback.store.FeedbackStore` (or
   its path), a JSONL file or an iterable of records / ``(prompt, response)`` pairs into a
   list of ``(prompt, response)`` texts. Corrections count as demonstrations of their
   edited response.
2. :func:`encode_demonstration` tokenizes one pair with the env's own prompt encoder,
   :func:`rlhf_env.models.encode_prompt` (chat template with a generation prompt when the
   tokenizer has one, system prompt, truncation to the last ``max_prompt_tokens``), then
   appends the response and EOS. The env encodes its prompts with that same function, so
   SFT teaches exactly the context PPO later samples from.
3. :func:`collate` left-pads a batch, so every response ends in the last column, and sets
   the labels of padding and prompt tokens to ``-100``: the loss covers response tokens only.
4. :func:`supervised_finetune` runs AdamW epochs with gradient clipping and reports the
   held-out loss and the mean response log-prob before and after (:class:`SFTResult`).

The model is a plain causal LM or a :class:`~agents.token_ppo.policy.PolicyWithValue`
(only its LM trains; the value head is untouched), so the result goes straight into
``TokenPPOTrainer(config, policy=result.model)``. As in the PPO trainer, the model stays in
``eval`` mode (no dropout) and positions are counted over real tokens only.

>>> from agents.sft import load_demonstrations
>>> load_demonstrations([("Say hi.", "Hello!")])
[('Say hi.', 'Hello!')]
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.token_ppo.generation import position_ids
from agents.token_ppo.policy import PolicyWithValue, _apply_lora
from rlhf_env.errors import ConfigError, FeedbackError, StoreError
from rlhf_env.models import encode_prompt, eos_token_id
from rlhf_env.numerics import check_grads, check_loss
from rlhf_env.quiet import quiet_hf
from rlhf_env.text.spaces import left_pad
from rlhf_env.validation import check_fields

DemoPair = tuple[str, str]
"""A ``(prompt, response)`` pair of texts."""

IGNORE_INDEX = -100
"""Label of tokens outside the loss (padding and prompt), as in Hugging Face models."""


# -- data --------------------------------------------------------------------------------
def load_demonstrations(source: Any, *, task: str | None = None,
                        include_corrections: bool = True) -> list[DemoPair]:
    """``(prompt, response)`` pairs from ``source``, in its order.

    ``source`` is one of:

    * a :class:`~rlhf_env.feedback.store.FeedbackStore`, or the path of its database file:
      its ``Demonstration`` records, and the edited response of its ``Correction`` records
      (unless ``include_corrections=False``); retracted records are left out;
    * a ``.jsonl`` path: one object per line, either ``{"prompt": ..., "response": ...}`` or
      a record exported by :func:`rlhf_env.feedback.export_jsonl` (lines of other record
      kinds are skipped);
    * an iterable of ``Demonstration`` / ``Correction`` records, ``(prompt, response)``
      pairs or ``{"prompt", "response"}`` mappings.

    ``task`` keeps only records (or JSONL lines with a ``"task"`` key) of that task. Raises
    :class:`~rlhf_env.errors.FeedbackError` naming the bad line or item, or when nothing is
    left.
    """
    from rlhf_env.feedback.store import FeedbackStore

    if isinstance(source, FeedbackStore):
        pairs, where = _from_store(source, task, include_corrections), "the feedback store"
    elif isinstance(source, (str, Path)):
        pairs, where = _from_path(Path(source), task, include_corrections), str(source)
    elif isinstance(source, Iterable):
        pairs, where = _from_items(source, task, include_corrections), "the given items"
    else:
        raise FeedbackError(
            f"cannot read demonstrations from {type(source).__name__}; pass a FeedbackStore, "
            f"a store or .jsonl path, or an iterable of (prompt, response) pairs or records.")
    if not pairs:
        kinds = "demonstrations or corrections" if include_corrections else "demonstrations"
        scope = f" for task {task!r}" if task is not None else ""
        raise FeedbackError(f"{where} holds no {kinds}{scope}; SFT needs at least one "
                            f"(prompt, response) pair.")
    return pairs


def _from_store(store: Any, task: str | None, include_corrections: bool) -> list[DemoPair]:
    kinds = ("demonstration", "correction") if include_corrections else ("demonstration",)
    records = [r for kind in kinds for r in store.iter(kind, task=task)]
    records.sort(key=lambda r: r.timestamp)
    return [p for p in (_record_pair(r, include_corrections) for r in records) if p]


def _from_path(path: Path, task: str | None, include_corrections: bool) -> list[DemoPair]:
    if not path.is_file():
        raise FeedbackError(f"demonstration file {path} does not exist; pass a .jsonl file or "
                            f"a feedback store's database file.")
    if path.suffix == ".jsonl":
        return _from_jsonl(path, task, include_corrections)
    from rlhf_env.feedback.store import FeedbackStore

    try:
        with FeedbackStore(path, read_only=True) as store:  # reading never changes it
            return _from_store(store, task, include_corrections)
    except (sqlite3.DatabaseError, StoreError) as exc:
        raise FeedbackError(f"{path} is neither a .jsonl file nor a feedback store ({exc}); "
                            f"name JSONL files *.jsonl.") from exc


def _from_jsonl(path: Path, task: str | None, include_corrections: bool) -> list[DemoPair]:
    pairs = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise FeedbackError(f"{path}:{lineno}: not valid JSON ({exc}).") from exc
        if not isinstance(data, Mapping):
            raise FeedbackError(f"{path}:{lineno}: expected a JSON object with 'prompt' and "
                                f"'response' keys, got {type(data).__name__}.")
        if task is not None and data.get("task", task) != task:
            continue
        try:
            pair = _mapping_pair(data, include_corrections)
        except FeedbackError as exc:
            raise FeedbackError(f"{path}:{lineno}: {exc}") from exc
        if pair:
            pairs.append(pair)
    return pairs


def _from_items(items: Iterable[Any], task: str | None,
                include_corrections: bool) -> list[DemoPair]:
    from rlhf_env.feedback.records import FeedbackRecord

    pairs = []
    for i, item in enumerate(items):
        try:
            if isinstance(item, FeedbackRecord):
                pair = None if task not in (None, item.task) else _record_pair(
                    item, include_corrections)
            elif isinstance(item, Mapping):
                pair = _mapping_pair(item, include_corrections)
            elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
                pair = _checked(item[0], item[1])
            else:
                raise FeedbackError(f"expected a (prompt, response) pair, a Demonstration or "
                                    f"a Correction, got {type(item).__name__}.")
        except FeedbackError as exc:
            raise FeedbackError(f"item {i}: {exc}") from exc
        if pair:
            pairs.append(pair)
    return pairs


def _record_pair(record: Any, include_corrections: bool) -> DemoPair | None:
    if record.KIND == "demonstration":
        return record.prompt, record.response
    if record.KIND == "correction" and include_corrections:
        return record.prompt, record.edited
    return None


def _mapping_pair(data: Mapping[str, Any], include_corrections: bool) -> DemoPair | None:
    kind = data.get("kind")
    if kind is not None and kind != "demonstration":
        if kind != "correction" or not include_corrections:
            return None  # another feedback kind, or an annotator line
        missing = [k for k in ("prompt", "edited") if k not in data]
        if missing:
            raise FeedbackError(f"correction without {' and '.join(map(repr, missing))}.")
        return _checked(data["prompt"], data["edited"])
    missing = [k for k in ("prompt", "response") if k not in data]
    if missing:
        raise FeedbackError(f"missing key {' and '.join(map(repr, missing))}; each line needs "
                            f"'prompt' and 'response'.")
    return _checked(data["prompt"], data["response"])


def _checked(prompt: Any, response: Any) -> DemoPair:
    for name, text in (("prompt", prompt), ("response", response)):
        if not isinstance(text, str) or not text.strip():
            raise FeedbackError(f"the {name} must be a non-empty string, got {text!r:.60}.")
    return prompt, response


# -- tokenization ------------------------------------------------------------------------
@dataclass(frozen=True)
class EncodedDemonstration:
    """One demonstration as token ids."""

    prompt_ids: tuple[int, ...]
    """The prompt as the policy sees it (:func:`rlhf_env.models.encode_prompt`: formatted,
    its last ``max_prompt_tokens`` tokens)."""
    response_ids: tuple[int, ...]
    """The response followed by EOS (its first ``max_response_tokens`` tokens; a cut response
    has no EOS, so SFT never teaches stopping where the demonstration did not stop)."""
    truncated: bool
    """Whether the prompt or the response was cut."""


def encode_demonstration(tokenizer: Any, prompt: str, response: str,
                         config: SFTConfig) -> EncodedDemonstration:
    """Tokenize a pair: the env's prompt ids, then the response ids and EOS."""
    eos = eos_token_id(tokenizer)
    encoded = encode_prompt(tokenizer, prompt, use_chat_template=config.use_chat_template,
                            system_prompt=config.system_prompt,
                            max_tokens=config.max_prompt_tokens)
    response_ids = [*tokenizer.encode(response, add_special_tokens=False), eos]
    cut = encoded.truncated or len(response_ids) > config.max_response_tokens
    return EncodedDemonstration(tuple(encoded.ids.tolist()),
                                tuple(response_ids[:config.max_response_tokens]), cut)


@dataclass(frozen=True)
class SFTBatch:
    """A left-padded batch. ``B`` demonstrations, ``T`` columns, ``R`` = longest response."""

    input_ids: torch.Tensor
    """``(B, T)`` int64 prompt + response ids; padding holds ``pad_id``."""
    attention_mask: torch.Tensor
    """``(B, T)`` int64: 1 on real tokens."""
    labels: torch.Tensor
    """``(B, T)`` int64: the response ids, ``-100`` on padding and prompt tokens."""
    n_response: int
    """``R``: every response lies in the last ``R`` columns."""


def collate(examples: Sequence[EncodedDemonstration], pad_id: int,
            device: torch.device | str = "cpu") -> SFTBatch:
    """Left-pad ``examples`` into one :class:`SFTBatch` (the pad id is never attended to)."""
    ids, mask = left_pad([(*e.prompt_ids, *e.response_ids) for e in examples], pad_id)
    labels, _ = left_pad([e.response_ids for e in examples], IGNORE_INDEX, ids.shape[1])
    n_response = max(len(e.response_ids) for e in examples)
    ids_t, mask_t, labels_t = (torch.from_numpy(a).to(device) for a in (ids, mask, labels))
    return SFTBatch(ids_t, mask_t, labels_t, n_response)


def response_logprobs(lm: Any, batch: SFTBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs ``(B, R)`` of the batch's last ``R`` tokens (with grad) and their loss mask.

    One forward that keeps only the logits predicting the response columns, as
    :meth:`PolicyWithValue.forward` does; entries outside the mask are 0.
    """
    r = batch.n_response
    out = lm(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
             position_ids=position_ids(batch.attention_mask), logits_to_keep=r + 1)
    labels = batch.labels[:, -r:]
    mask = labels != IGNORE_INDEX
    logp = out.logits[:, -(r + 1):-1].float().log_softmax(-1)  # also if logits_to_keep is ignored
    picked = logp.gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
    return picked * mask, mask


# -- configuration and result ------------------------------------------------------------
@dataclass(frozen=True)
class SFTConfig:
    """Settings of :func:`supervised_finetune`. Validated on construction."""

    epochs: int = 3
    """Passes over the training demonstrations."""
    batch_size: int = 8
    """Demonstrations per optimizer step."""
    learning_rate: float = 2e-5
    """AdamW learning rate (LoRA adapters usually want ~1e-4 or more)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip (``inf``: off)."""
    seed: int = 0
    """Seeds the held-out split, the batch order and the LoRA adapters' initialisation."""
    eval_fraction: float = 0.0
    """Share of the demonstrations held out (at least one each side when > 0) to report a
    held-out loss and log-prob; 0 evaluates the log-prob on the training set."""
    max_prompt_tokens: int = 64
    """Prompts longer than this keep their last tokens, as ``RLHF-Text-v0`` does (same
    default); use the env's value."""
    max_response_tokens: int = 128
    """Responses (EOS included) longer than this keep their first tokens and lose the EOS."""
    use_chat_template: bool | None = None
    """Chat-format prompts as the env does (``None``: when the tokenizer has a template)."""
    system_prompt: str | None = None
    """System message for chat-formatted prompts, as the env's ``system_prompt``."""
    lora_r: int = 0
    """LoRA rank for a plain causal LM (0: train all weights); needs ``peft``. A
    ``PolicyWithValue`` keeps its own LoRA setting, so this must be 0 for one."""
    lora_alpha: int = 16
    """LoRA scaling α."""
    lora_target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    """Module names that get LoRA adapters."""
    merge_lora: bool = True
    """After LoRA training, merge the adapters into the weights and return the plain LM
    (``False``: return the ``peft`` model with its adapters)."""
    sync_reference: bool = True
    """After training a ``PolicyWithValue``, make its KL reference the fine-tuned model (the
    usual RLHF anchor): copy the weights into its frozen reference, or with LoRA merge the
    adapters into the shared base and start fresh (zero) adapters. ``False`` keeps the
    reference as it was."""
    progress_bar: bool = True
    """Show a tqdm progress bar over the optimizer steps."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("epochs", "batch_size", "max_prompt_tokens", "max_response_tokens"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {getattr(self, name)}.")
        for name in ("learning_rate", "max_grad_norm", "lora_alpha"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}.")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay must be a finite number ≥ 0, got "
                              f"{self.weight_decay}.")
        if not 0 <= self.eval_fraction < 1:
            raise ConfigError(f"eval_fraction must lie in [0, 1), got {self.eval_fraction}.")
        if self.lora_r < 0:
            raise ConfigError(f"lora_r must be ≥ 0 (0 disables LoRA), got {self.lora_r}.")


@dataclass(frozen=True, repr=False)
class SFTResult:
    """What :func:`supervised_finetune` did. Losses are mean per-token negative
    log-likelihoods of response tokens (EOS included), in nats."""

    train_loss: tuple[float, ...]
    """Mean training loss of each epoch (measured during the epoch, as the weights moved)."""
    eval_loss_before: float | None
    """Held-out loss before training (``None`` without a held-out split)."""
    eval_loss_after: float | None
    """Held-out loss after training."""
    logprob_before: float
    """Mean summed log-prob of a demonstration's response (EOS included) before training, on
    the held-out split, or on the training set when there is none (see ``logprob_split``)."""
    logprob_after: float
    """The same after training."""
    logprob_split: str
    """``"held-out"`` or ``"train"``: where the log-probs were measured."""
    num_train: int
    """Training demonstrations."""
    num_eval: int
    """Held-out demonstrations."""
    steps: int
    """Optimizer steps taken."""
    truncated: int
    """Demonstrations whose prompt or response was cut to the token limits."""
    seconds: float
    """Wall time of training and evaluation."""
    model: Any = field(repr=False, compare=False)
    """The trained model: the LM (merged after LoRA unless ``merge_lora=False``) or the
    ``PolicyWithValue`` that was passed. Plain models are also updated in place."""

    def __repr__(self) -> str:
        held = (f"held-out loss {self.eval_loss_before:.3f} -> {self.eval_loss_after:.3f}, "
                if self.eval_loss_before is not None and self.eval_loss_after is not None
                else "")
        return (f"SFTResult({held}response log-prob {self.logprob_before:.2f} -> "
                f"{self.logprob_after:.2f} ({self.logprob_split}), {self.num_train} train / "
                f"{self.num_eval} held-out demos, {len(self.train_loss)} epochs, "
                f"{self.steps} steps, {self.seconds:.1f} s)")


# -- training ----------------------------------------------------------------------------
def supervised_finetune(model: Any, tokenizer: Any, demonstrations: Any,
                        config: SFTConfig | None = None, *,
                        save_to: str | Path | None = None) -> SFTResult:
    """Fine-tune ``model`` on ``demonstrations`` (anything :func:`load_demonstrations` reads).

    ``model``: a causal LM or a :class:`~agents.token_ppo.policy.PolicyWithValue`.
    ``tokenizer``: the one the env uses for this model (no pad token is needed: padding is
    masked). ``save_to``: a folder for the trained LM and tokenizer (``save_pretrained``;
    LoRA adapters merged), loadable with :func:`rlhf_env.models.load_causal_lm`.
    """
    config = config or SFTConfig()
    start = time.perf_counter()
    pairs = load_demonstrations(demonstrations)
    lm, policy = _trainable_lm(model, config)
    examples = [encode_demonstration(tokenizer, p, r, config) for p, r in pairs]
    _warn_truncated(examples, config)
    train, held_out = _split(examples, config)
    measured = held_out or train
    pad_id = _pad_id(tokenizer)
    eval_before = _evaluate(lm, held_out, pad_id, config) if held_out else None
    logprob_before = _evaluate(lm, measured, pad_id, config)[1]
    losses, steps = _train(lm, train, pad_id, config)
    eval_after = _evaluate(lm, held_out, pad_id, config) if held_out else None
    logprob_after = _evaluate(lm, measured, pad_id, config)[1]
    trained = _finish(lm, policy, config)
    if save_to is not None:
        _save(trained.lm if isinstance(trained, PolicyWithValue) else trained, tokenizer,
              Path(save_to))
    return SFTResult(
        train_loss=tuple(losses), eval_loss_before=None if eval_before is None else eval_before[0],
        eval_loss_after=None if eval_after is None else eval_after[0],
        logprob_before=logprob_before, logprob_after=logprob_after,
        logprob_split="held-out" if held_out else "train", num_train=len(train),
        num_eval=len(held_out), steps=steps, truncated=sum(e.truncated for e in examples),
        seconds=time.perf_counter() - start, model=trained)


def _trainable_lm(model: Any, config: SFTConfig) -> tuple[Any, PolicyWithValue | None]:
    """The module to train (LoRA-wrapped when asked) and the policy it belongs to, if any."""
    if isinstance(model, PolicyWithValue):
        if config.lora_r:
            raise ConfigError("this PolicyWithValue sets its own LoRA (lora_r when it was "
                              "built); leave SFTConfig.lora_r at 0, or pass the plain LM.")
        lm, policy = model.lm, model
    elif config.lora_r > 0:
        with _seeded(config.seed):
            lm = _apply_lora(model, config.lora_r, config.lora_alpha,
                             config.lora_target_modules)
        policy = None
    else:
        lm, policy = model, None
    if not any(p.requires_grad for p in lm.parameters()):
        raise ConfigError("the model has no trainable parameters (requires_grad is False "
                          "everywhere); unfreeze it or use lora_r > 0.")
    return lm.eval(), policy


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _pad_id(tokenizer: Any) -> int:
    """Any valid id works (padding is masked): the pad token, else EOS."""
    pad = tokenizer.pad_token_id
    return int(pad) if pad is not None else eos_token_id(tokenizer)


def _warn_truncated(examples: list[EncodedDemonstration], config: SFTConfig) -> None:
    n = sum(e.truncated for e in examples)
    if n:
        warnings.warn(f"{n} of {len(examples)} demonstrations exceed max_prompt_tokens="
                      f"{config.max_prompt_tokens} or max_response_tokens="
                      f"{config.max_response_tokens}: prompts keep their last tokens (as the "
                      f"env does), responses their first (without EOS).", stacklevel=3)


def _split(examples: list[EncodedDemonstration],
           config: SFTConfig) -> tuple[list[EncodedDemonstration], list[EncodedDemonstration]]:
    """Training and held-out demonstrations (a seeded shuffle; none held out at fraction 0)."""
    if config.eval_fraction == 0:
        return examples, []
    if len(examples) < 2:
        raise ConfigError(f"eval_fraction={config.eval_fraction} needs at least 2 "
                          f"demonstrations (got {len(examples)}); pass eval_fraction=0.")
    order = np.random.default_rng(config.seed).permutation(len(examples))
    n_eval = min(max(1, round(config.eval_fraction * len(examples))), len(examples) - 1)
    return [examples[i] for i in order[n_eval:]], [examples[i] for i in order[:n_eval]]


def _batches(examples: list[EncodedDemonstration], size: int,
             order: Sequence[int] | None = None) -> Iterator[list[EncodedDemonstration]]:
    index = list(range(len(examples))) if order is None else list(order)
    for start in range(0, len(index), size):
        yield [examples[i] for i in index[start:start + size]]


@torch.no_grad()
def _evaluate(lm: Any, examples: list[EncodedDemonstration], pad_id: int,
              config: SFTConfig) -> tuple[float, float]:
    """Mean per-token loss and mean summed response log-prob over ``examples``."""
    device = next(lm.parameters()).device
    total, tokens, per_example = 0.0, 0, []
    for chunk in _batches(examples, config.batch_size):
        logp, mask = response_logprobs(lm, collate(chunk, pad_id, device))
        total -= float(logp.sum())
        tokens += int(mask.sum())
        per_example.extend(logp.sum(-1).tolist())
    return total / tokens, float(np.mean(per_example))


def _train(lm: Any, examples: list[EncodedDemonstration], pad_id: int,
           config: SFTConfig) -> tuple[list[float], int]:
    """AdamW epochs over shuffled batches; the mean loss of each epoch and the step count."""
    from tqdm.auto import tqdm

    params = [p for p in lm.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    device = next(lm.parameters()).device
    per_epoch = math.ceil(len(examples) / config.batch_size)
    bar = tqdm(total=config.epochs * per_epoch, desc="SFT", disable=not config.progress_bar)
    losses = []
    for _ in range(config.epochs):
        order = torch.randperm(len(examples), generator=generator).tolist()
        total, tokens = 0.0, 0
        for chunk in _batches(examples, config.batch_size, order):
            logp, mask = response_logprobs(lm, collate(chunk, pad_id, device))
            n = int(mask.sum())
            loss = -logp.sum() / n
            check_loss(loss, "SFT")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            check_grads(params, "SFT")
            if math.isfinite(config.max_grad_norm):
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            total, tokens = total + float(loss.detach()) * n, tokens + n
            bar.update()
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        losses.append(total / tokens)
    bar.close()
    return losses, config.epochs * per_epoch


def _finish(lm: Any, policy: PolicyWithValue | None, config: SFTConfig) -> Any:
    """Merge LoRA for a plain LM, or re-anchor a policy's reference (see ``SFTConfig``)."""
    if policy is None:
        return lm.merge_and_unload() if config.lora_r > 0 and config.merge_lora else lm
    if config.sync_reference:
        if policy.uses_lora:
            lora = policy.lm.peft_config["default"]
            with _seeded(config.seed):
                policy.lm = _apply_lora(policy.lm.merge_and_unload(), lora.r, lora.lora_alpha,
                                        tuple(sorted(lora.target_modules)))
        else:
            _copy_into_reference(policy)
    return policy


def _copy_into_reference(policy: PolicyWithValue) -> None:
    if policy.reference is None:  # never without LoRA; nothing to copy into
        return
    try:
        policy.reference.load_state_dict(policy.lm.state_dict())
    except RuntimeError as exc:
        raise ConfigError("the policy's reference has other weights than its LM, so it cannot "
                          "become the fine-tuned model; pass sync_reference=False to keep it."
                          ) from exc


def _save(lm: Any, tokenizer: Any, folder: Path) -> None:
    """``save_pretrained`` the LM (a merged copy if it carries LoRA adapters) and tokenizer."""
    if hasattr(lm, "merge_and_unload"):
        lm = copy.deepcopy(lm).merge_and_unload()
    folder.mkdir(parents=True, exist_ok=True)
    with quiet_hf():
        lm.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
