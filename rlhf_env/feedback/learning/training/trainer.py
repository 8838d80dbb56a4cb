"""The reward-model trainer: one orchestrator, several objectives.

    records ──build_dataset──▶ FeedbackDataset ──split──▶ train / validation
    train ──length-bucketed batches──▶ score the batch's distinct items once
          ──▶ Bradley–Terry (pairs) + Plackett–Luce (rankings) + regression | ordinal (ratings)
          ──▶ AdamW step ──▶ per-epoch validation ──▶ early stopping (best weights restored)

Speed comes from not doing work twice: every distinct (prompt, response) is tokenized once;
a batch runs the encoder once per distinct item however many examples use it; batches are
grouped by length so padding stays small; and with a frozen backbone the pooled embeddings
of all items are computed once and only the head trains (``cache_embeddings``), which also
serves every member of an ensemble and every round of active learning through
:attr:`RewardModelTrainer.embedding_cache`.

    >>> from rlhf_env.feedback.learning.training import RewardTrainerConfig
    >>> RewardTrainerConfig(epochs=0)
    Traceback (most recent call last):
    ...
    rlhf_env.errors.ConfigError: RewardTrainerConfig: epochs must be >= 1, got 0.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rlhf_env.errors import ChanceLevelWarning, ConfigError, FeedbackError
from rlhf_env.feedback.learning.evaluation import wilson_interval
from rlhf_env.feedback.learning.training import objectives
from rlhf_env.feedback.learning.training.adapter import (
    RewardModuleAdapter,
    as_trainable,
    find_backbone,
)
from rlhf_env.feedback.learning.training.dataset import (
    FeedbackDataset,
    PolicySamples,
    bootstrap,
    build_dataset,
    split,
)
from rlhf_env.feedback.records import Annotator, FeedbackRecord
from rlhf_env.numerics import check_grads, check_loss
from rlhf_env.rewards.ensemble import EnsembleReward
from rlhf_env.validation import check_fields, check_float

RATING_OBJECTIVES = ("regression", "ordinal")


@dataclass(frozen=True)
class RewardTrainerConfig:
    """Settings of :class:`RewardModelTrainer`."""

    epochs: int = 20
    """Most passes over the training examples. With a held-out split (``val_fraction``)
    early stopping usually ends sooner and the best epoch's weights are kept, so a generous
    cap costs little; a small data set needs it: 4 epochs of 200 pairs are only ~25
    optimisation steps, too few for a freshly initialised head to learn anything."""
    batch_size: int = 32
    """Examples (pairs, rankings or ratings) per optimisation step."""
    lr: float = 2e-5
    """Learning rate of the backbone (ignored when it is frozen)."""
    head_lr: float = 5e-3
    """Learning rate of everything outside the backbone (head, attribute tables, cut points).
    A fresh head over frozen embeddings needs a larger step than the backbone: at 1e-3 a
    head on a few hundred comparisons was still improving after 20 epochs; early stopping
    keeps the best epoch if 5e-3 overshoots."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    freeze_backbone: bool | None = None
    """Train only the head; the backbone's weights stay as they are. ``None``: as the model's
    own ``config.freeze_backbone`` says (``EncoderHeadReward`` freezes by default), else
    ``False``."""
    cache_embeddings: bool = True
    """With a frozen backbone, embed every item once and train the head on the cache."""
    rating_objective: str = "regression"
    """``"regression"`` (MSE on per-annotator z-scores) or ``"ordinal"`` (learned cut
    points and a bias per annotator; needs one integer scale)."""
    use_margins: bool = False
    """Use each comparison's ``strength`` as a Bradley–Terry margin."""
    normalize_ratings: bool = True
    """Z-score ratings per annotator before regression (removes harsh/lenient offsets)."""
    pair_weight: float = 1.0
    """Weight of the pairwise (comparison, demonstration, correction) loss."""
    lapse_rate: float = 0.0
    """Share of pairwise labels the likelihood takes to be coin flips, in [0, 1):
    ``P(a ≻ b) = ε/2 + (1 − ε)·σ(r_a − r_b)`` (0: plain Bradley–Terry). With noisy labelers
    it keeps a few contrary labels from capping the score gap of clear-cut pairs."""
    ranking_weight: float = 1.0
    """Weight of the Plackett–Luce ranking loss."""
    rating_weight: float = 1.0
    """Weight of the rating loss."""
    val_fraction: float = 0.2
    """Share of examples held out for early stopping, for choosing the epoch whose weights are
    kept and for the chance check (0: none, and the last epoch is kept). A fifth rather than a
    tenth so that small data sets still hold out enough pairs for the accuracy to mean
    something (20 of 100 comparisons; a tenth would be 10, whose 95% interval spans ±0.3)."""
    patience: int = 3
    """Stop after this many epochs without a lower validation loss (0: never stop early); 3
    rides out the epoch-to-epoch noise of a small validation split."""
    warn_at_chance: bool = True
    """Warn with :class:`~rlhf_env.errors.ChanceLevelWarning` when the kept epoch's held-out
    pairwise accuracy is not measurably better than chance (its 95% Wilson interval includes
    0.5): the model may be useless even though training "worked"."""
    max_steps: int | None = None
    """Hard limit on optimisation steps (``None``: no limit)."""
    grad_clip: float = 1.0
    """Gradient-norm clip (0: off)."""
    attribute_dropout: float = 0.1
    """For annotator-conditioned models: chance of hiding an annotator's attributes in a
    batch, so the "unknown" attributes learn the population view."""
    embed_batch_size: int = 64
    """Batch size for computing cached embeddings."""
    bucket_batches: int = 50
    """Batches per length bucket: examples are sorted by length within buckets of this many
    batches, then the batches are shuffled."""
    seed: int = 0
    """Seed of the split, the batch order and bootstrap resamples."""
    device: str | None = None
    """Torch device (``None``: CUDA when available, else CPU)."""

    def __post_init__(self) -> None:
        check_fields(self)
        owner = "RewardTrainerConfig"
        for name in ("epochs", "batch_size", "embed_batch_size", "bucket_batches"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{owner}: {name} must be >= 1, got {getattr(self, name)}.")
        for name in ("lr", "head_lr", "weight_decay", "pair_weight", "ranking_weight",
                     "rating_weight", "grad_clip"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{owner}: {name} must be a finite number >= 0, got {value!r}.")
        if self.rating_objective not in RATING_OBJECTIVES:
            raise ConfigError(
                f"{owner}: rating_objective must be one of {RATING_OBJECTIVES}, got "
                f"{self.rating_objective!r}."
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(
                f"{owner}: val_fraction must be in [0, 1), got {self.val_fraction!r}."
            )
        if self.patience < 0:
            raise ConfigError(f"{owner}: patience must be >= 0, got {self.patience}.")
        if check_float(f"{owner}.lapse_rate", self.lapse_rate, minimum=0.0, maximum=1.0) == 1.0:
            raise ConfigError(f"{owner}: lapse_rate must be below 1 (1 would make every label a "
                              "coin flip, leaving nothing to learn); 0.1 is a common choice.")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"{owner}: max_steps must be >= 1 or None, got {self.max_steps}.")
        if not 0.0 <= self.attribute_dropout < 1.0:
            raise ConfigError(
                f"{owner}: attribute_dropout must be in [0, 1), got {self.attribute_dropout}."
            )


@dataclass(repr=False)
class TrainResult:
    """What :meth:`RewardModelTrainer.fit` returns; ``print`` shows one line of key numbers."""

    model: Any
    """The trained model, best weights loaded: the object that was passed in, or for a raw
    transformers classifier or a folder path the :class:`~rlhf_env.rewards.HFClassifierReward`
    (or saved reward model) that wraps it (a raw classifier is trained in place)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """One dict per epoch: ``train_loss``, ``val_loss``, ``val_accuracy``, ``val_pairs``,
    ``seconds``."""
    best_epoch: int = 0
    """Epoch (1-based) whose weights were kept."""
    steps: int = 0
    """Optimisation steps taken."""
    seconds: float = 0.0
    """Wall time of training (embedding cache and validation included)."""
    examples_per_second: float = 0.0
    """Training examples processed per second of optimisation (cache time excluded)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Number of training examples of each kind (see :meth:`FeedbackDataset.counts`)."""
    stopped_early: bool = False
    """Whether early stopping (or ``max_steps``) ended training before ``epochs``."""
    val_accuracy: float | None = None
    """Held-out pairwise accuracy of the kept epoch (``None`` without held-out pairs)."""
    val_accuracy_ci: tuple[float, float] | None = None
    """Its 95% Wilson interval (see
    :func:`~rlhf_env.feedback.learning.evaluation.wilson_interval`)."""
    val_pairs: int = 0
    """Strict held-out comparisons the accuracy was measured on."""

    def __repr__(self) -> str:
        n_train = sum(n for kind, n in self.counts.items() if kind != "items")
        ran = len(self.history)
        kept = f"epoch {self.best_epoch} of {ran} kept" + (" (stopped early)"
                                                            if self.stopped_early else "")
        if self.val_accuracy is not None and self.val_accuracy_ci is not None:
            lo, hi = self.val_accuracy_ci
            val = (f"val accuracy {self.val_accuracy:.3f} (95% CI {lo:.2f}-{hi:.2f}) on "
                   f"{self.val_pairs} pairs")
        else:
            val = "no held-out pairs"
        return (f"TrainResult({kept}, {val}, {n_train} training examples, {self.steps} steps, "
                f"{self.seconds:.1f} s)")


# --------------------------------------------------------------------------------------
# batches


@dataclass(frozen=True)
class _Batch:
    """Example indices of one step, per kind."""

    pairs: np.ndarray
    lists: np.ndarray
    ratings: np.ndarray


def _example_lengths(data: FeedbackDataset, item_len: np.ndarray) -> tuple[np.ndarray, ...]:
    pair_len = np.maximum(item_len[data.pairs.a], item_len[data.pairs.b]) if len(data.pairs) \
        else np.zeros(0)
    list_len = np.where(data.lists.valid, item_len[data.lists.items], 0).max(axis=1) \
        if len(data.lists) else np.zeros(0)
    rating_len = item_len[data.ratings.item] if len(data.ratings) else np.zeros(0)
    return pair_len, list_len, rating_len


def make_batches(data: FeedbackDataset, item_len: np.ndarray, batch_size: int,
                 bucket_batches: int, rng: np.random.Generator) -> list[_Batch]:
    """Shuffle all examples, sort by length inside buckets, cut batches, shuffle batches."""
    lengths = _example_lengths(data, item_len)
    kinds = np.concatenate([np.full(len(x), k) for k, x in enumerate(lengths)]).astype(int)
    index = np.concatenate([np.arange(len(x)) for x in lengths]).astype(np.int64)
    length = np.concatenate(lengths)
    perm = rng.permutation(len(index))
    bucket = batch_size * bucket_batches
    batches = []
    for start in range(0, len(perm), bucket):
        chunk = perm[start:start + bucket]
        chunk = chunk[np.argsort(length[chunk], kind="stable")]
        for b in range(0, len(chunk), batch_size):
            sel = chunk[b:b + batch_size]
            batches.append(_Batch(*(index[sel][kinds[sel] == k] for k in range(3))))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def _batch_units(data: FeedbackDataset, batch: _Batch, conditioned: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (item, annotator) units a batch needs and the inverse map of every use.

    Returns ``(unit_items, unit_annotators, inverse)`` where ``inverse`` indexes units in
    the order: pair a's, pair b's, list cells (row-major), rating items.
    """
    p, li, r = data.pairs, data.lists, data.ratings
    items = np.concatenate([p.a[batch.pairs], p.b[batch.pairs],
                            li.items[batch.lists].reshape(-1), r.item[batch.ratings]])
    k = li.items.shape[1] if len(li) else 0
    anns = np.concatenate([p.annotator[batch.pairs], p.annotator[batch.pairs],
                           np.repeat(li.annotator[batch.lists], k), r.annotator[batch.ratings]])
    if not conditioned:
        anns = np.zeros_like(anns)
    width = int(anns.max()) + 1 if len(anns) else 1
    units, inverse = np.unique(items * width + anns, return_inverse=True)
    return units // width, units % width, inverse.reshape(-1)


# --------------------------------------------------------------------------------------
# the trainer


class RewardModelTrainer:
    """Train a scalar text reward model from feedback records (see the module docstring).

    Args:
        config: optimisation and objective settings.

    The trainer keeps :attr:`embedding_cache` (text key → pooled embedding) between calls
    when the backbone is frozen, so training several models over one backbone (ensembles,
    active-learning rounds) embeds each text only once.
    """

    def __init__(self, config: RewardTrainerConfig | None = None) -> None:
        self.config = config or RewardTrainerConfig()
        self.embedding_cache: dict[tuple[str, str], Tensor] = {}
        self._cache_owner: tuple[Any, str, int] | None = None

    # -- public API -------------------------------------------------------------------------
    def fit(
        self,
        model: Any,
        records: Sequence[FeedbackRecord] | FeedbackDataset,
        *,
        annotators: Sequence[Annotator] | Mapping[str, Annotator] | None = None,
        annotator_weights: Mapping[str, float] | None = None,
        policy_samples: PolicySamples | None = None,
        validation: Sequence[FeedbackRecord] | FeedbackDataset | None = None,
    ) -> TrainResult:
        """Train ``model`` in place on ``records`` and return a :class:`TrainResult`.

        Args:
            model: a trainable reward model (see :mod:`.adapter`): ``EncoderHeadReward``,
                :class:`~.conditioned.AnnotatorConditionedReward`, ``HFClassifierReward``, a
                raw transformers ``AutoModelForSequenceClassification`` (its tokenizer is
                loaded from its ``name_or_path``) or the folder path of any of them.
            records: feedback of any kinds, or a prepared :class:`FeedbackDataset`.
            annotators: annotator records (attributes) for conditioned models.
            annotator_weights: reliability weight per annotator id, multiplied into every
                example's weight.
            policy_samples: what demonstrations are preferred over (see
                :func:`~.dataset.build_dataset`).
            validation: held-out feedback; by default ``config.val_fraction`` of ``records``.
        """
        return self.fit_bootstrap(lambda _i: model, records, 1, annotators=annotators,
                                  annotator_weights=annotator_weights,
                                  policy_samples=policy_samples, validation=validation)[0]

    def fit_bootstrap(
        self,
        make_model: Callable[[int], Any],
        records: Sequence[FeedbackRecord] | FeedbackDataset,
        k: int,
        *,
        annotators: Sequence[Annotator] | Mapping[str, Annotator] | None = None,
        annotator_weights: Mapping[str, float] | None = None,
        policy_samples: PolicySamples | None = None,
        validation: Sequence[FeedbackRecord] | FeedbackDataset | None = None,
    ) -> list[TrainResult]:
        """Train ``k`` models, each on its own bootstrap resample of ``records``.

        This is the one bootstrap-ensemble mechanism: :meth:`fit_ensemble` (text reward
        models) and :func:`rlhf_env.control.training.fit_segment_ensemble` (trajectory
        reward nets) both train through it, and :meth:`fit` is its ``k = 1`` case.

        - The validation examples are set aside once, the same for every member and never
          resampled into training: ``validation`` when given, else ``config.val_fraction``
          of the examples (split with ``np.random.default_rng(config.seed)``).
        - Member ``i`` trains on :func:`~.dataset.bootstrap` of the rest, drawn with
          ``np.random.default_rng([config.seed, i])``, the generator that then orders its
          batches; so a member's data depends only on the seed and ``i``.
        - With ``k = 1`` the one model trains on all of the rest, without resampling.

        ``make_model(i)`` builds (or returns) member ``i`` just before it trains; give
        members of a frozen backbone the *same* backbone module so its embeddings are
        computed once. Other arguments as in :meth:`fit`. Returns one :class:`TrainResult`
        per member, in order.
        """
        if k < 1:
            raise ConfigError(f"fit_bootstrap needs k >= 1 models, got {k}.")
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        data = self._dataset(records, annotator_weights, policy_samples)
        if validation is not None:
            train, val = data, self._dataset(validation, annotator_weights, policy_samples)
        elif cfg.val_fraction > 0:
            train, val = split(data, cfg.val_fraction, rng)
        else:
            train, val = data, None
        if k == 1:
            return [self._fit_dataset(make_model(0), train, val, annotators, rng)]
        results = []
        for i in range(k):
            member_rng = np.random.default_rng([cfg.seed, i])
            results.append(self._fit_dataset(make_model(i), bootstrap(train, member_rng), val,
                                             annotators, member_rng))
        return results

    def fit_ensemble(
        self,
        make_model: Callable[[int], Any],
        records: Sequence[FeedbackRecord] | FeedbackDataset,
        k: int = 5,
        *,
        reduce: str = "mean",
        **fit_kwargs: Any,
    ) -> EnsembleReward:
        """Train ``k`` members with :meth:`fit_bootstrap` and return them as an ensemble.

        ``make_model(i)`` builds member ``i``; ``fit_kwargs`` are those of
        :meth:`fit_bootstrap`. Returns :class:`rlhf_env.rewards.EnsembleReward`
        (``member_scores`` gives ``(k, n)``).
        """
        if k < 2:
            raise ConfigError(f"an ensemble needs k >= 2 members, got {k}.")
        results = self.fit_bootstrap(make_model, records, k, **fit_kwargs)
        return EnsembleReward([r.model for r in results], reduce=reduce, name=f"ensemble-{k}")

    def cache_for(self, adapter: RewardModuleAdapter) -> dict[tuple[str, str], Tensor]:
        """:attr:`embedding_cache`, emptied first when a different backbone (or input format
        or token limit) comes along."""
        # the backbone object itself is kept (not its id, which a new object could reuse)
        owner = (find_backbone(adapter.model), adapter.input_format, adapter.max_length)
        old = self._cache_owner
        if old is None or old[0] is not owner[0] or old[1:] != owner[1:]:
            self.embedding_cache.clear()
            self._cache_owner = owner
        return self.embedding_cache

    def embed(self, model: Any, prompts: Sequence[str], responses: Sequence[str]) -> Tensor:
        """Pooled embeddings ``(n, H)`` of (prompt, response) pairs through
        :attr:`embedding_cache`, as training with a frozen backbone sees them. Call it once
        on a whole pool of texts and later fits of models that share the backbone reuse it."""
        adapter = RewardModuleAdapter(model, self.config.device)
        if not adapter.splittable:
            raise ConfigError(f"{type(model).__name__} has no separate embed(); nothing to cache.")
        model.to(adapter.device)
        items = list(zip(prompts, responses, strict=True))
        return _features_for(self.cache_for(adapter), adapter, items,
                             self.config.embed_batch_size)

    def add_embeddings(self, model: Any, prompts: Sequence[str], responses: Sequence[str],
                       embeddings: Any) -> None:
        """Put embeddings computed elsewhere (e.g. loaded from disk) into
        :attr:`embedding_cache`; they must come from ``model``'s frozen backbone and pooling."""
        adapter = RewardModuleAdapter(model, self.config.device)
        emb = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32, device=adapter.device)
        if emb.ndim != 2 or emb.shape[0] != len(responses) or len(prompts) != len(responses):
            raise ConfigError(
                f"add_embeddings: got {len(prompts)} prompts, {len(responses)} responses and "
                f"embeddings of shape {tuple(emb.shape)}; expected one (H,) row per pair."
            )
        cache = self.cache_for(adapter)
        for key, vec in zip(zip(prompts, responses, strict=True), emb, strict=True):
            cache[key] = vec

    # -- stages -------------------------------------------------------------------------------
    def _dataset(self, records: Any, weights: Mapping[str, float] | None,
                 policy_samples: PolicySamples | None) -> FeedbackDataset:
        if isinstance(records, FeedbackDataset):
            return records
        return build_dataset(records, annotator_weights=weights, policy_samples=policy_samples,
                             use_margins=self.config.use_margins,
                             normalize_ratings=self.config.normalize_ratings)

    def _fit_dataset(self, model: Any, train: FeedbackDataset, val: FeedbackDataset | None,
                     annotators: Any, rng: np.random.Generator) -> TrainResult:
        cfg = self.config
        if len(train) == 0:
            raise FeedbackError("the training split is empty; add feedback or lower "
                                "val_fraction.")
        t0 = time.perf_counter()
        model = as_trainable(model)
        adapter = RewardModuleAdapter(model, cfg.device)
        model.to(adapter.device)
        state = _TrainState.build(self, adapter, train, val, annotators)
        result = TrainResult(model=model, counts=train.counts())
        track = val is not None and len(val) > 0  # keep the best weights only with validation
        best = (math.inf, _trainable_state(adapter, cfg) if track else {}, 0)
        bad_epochs, train_seconds, seen = 0, 0.0, 0
        for epoch in range(1, cfg.epochs + 1):
            t_epoch = time.perf_counter()
            loss, n_seen = self._run_epoch(state, rng, result)
            train_seconds += time.perf_counter() - t_epoch
            seen += n_seen
            row = {"epoch": float(epoch), "train_loss": loss, "seconds": time.perf_counter() - t0}
            if val is not None and len(val):
                row.update(state.validate(val))
            result.history.append(row)
            score = row.get("val_loss", loss)
            if score < best[0] - 1e-6 or not track:
                best = (score, _trainable_state(adapter, cfg) if track else {}, epoch)
                bad_epochs = 0
            else:
                bad_epochs += 1
            if self._should_stop(result, bad_epochs, val):
                result.stopped_early = epoch < cfg.epochs
                break
        if track:
            model.load_state_dict(best[1], strict=False)
        model.eval()
        result.best_epoch = best[2]
        result.seconds = time.perf_counter() - t0
        result.examples_per_second = seen / max(train_seconds, 1e-9)
        self._check_chance(result)
        return result

    def _check_chance(self, result: TrainResult) -> None:
        """Fill the kept epoch's held-out accuracy and its interval; warn when the interval
        includes 0.5 (see ``RewardTrainerConfig.warn_at_chance``)."""
        if not result.best_epoch or not result.history:
            return
        row = result.history[result.best_epoch - 1]
        n = int(row.get("val_pairs", 0))
        if not n or "val_accuracy" not in row:
            return
        result.val_accuracy, result.val_pairs = float(row["val_accuracy"]), n
        result.val_accuracy_ci = wilson_interval(result.val_accuracy, n)
        lo, hi = result.val_accuracy_ci
        if self.config.warn_at_chance and lo <= 0.5:
            warnings.warn(
                f"the trained reward model is not measurably better than chance: held-out "
                f"pairwise accuracy {result.val_accuracy:.3f} on {n} pairs (95% CI {lo:.2f}-"
                f"{hi:.2f} includes 0.5). Collect more feedback, check that the labels agree "
                f"with each other (rlhf-env feedback report), or pass validation= with more "
                f"held-out pairs; RewardTrainerConfig(warn_at_chance=False) silences this.",
                ChanceLevelWarning, stacklevel=5)

    def _should_stop(self, result: TrainResult, bad_epochs: int,
                     val: FeedbackDataset | None) -> bool:
        cfg = self.config
        if cfg.max_steps is not None and result.steps >= cfg.max_steps:
            return True
        return bool(val is not None and len(val) and cfg.patience and bad_epochs >= cfg.patience)

    def _run_epoch(self, state: _TrainState, rng: np.random.Generator,
                   result: TrainResult) -> tuple[float, int]:
        cfg = self.config
        state.adapter.model.train()
        if state.frozen:
            bb = find_backbone(state.adapter.model)
            if bb is not None:
                bb.eval()  # no dropout in a frozen backbone
        total, n_seen = 0.0, 0
        batches = make_batches(state.data, state.item_len, cfg.batch_size,
                               cfg.bucket_batches, rng)
        for batch in batches:
            loss = state.batch_loss(state.data, batch, rng, train=True)
            check_loss(loss, "reward-model training")
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            check_grads(state.params, "reward-model training")
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(state.params, cfg.grad_clip)
            state.optimizer.step()
            size = len(batch.pairs) + len(batch.lists) + len(batch.ratings)
            total += float(loss.detach()) * size
            n_seen += size
            result.steps += 1
            if cfg.max_steps is not None and result.steps >= cfg.max_steps:
                break
        return total / max(n_seen, 1), n_seen


def _resolve_frozen(requested: bool | None, adapter: RewardModuleAdapter) -> bool:
    """Whether the backbone stays frozen; a clash with the model's own flag raises."""
    own = adapter.model_freezes_backbone
    if requested is None:
        return bool(own)
    if own is not None and own != requested:
        raise ConfigError(
            f"RewardTrainerConfig(freeze_backbone={requested}) but the model was built with "
            f"freeze_backbone={own}; build the model with freeze_backbone={requested} (e.g. "
            f"EncoderHeadReward(freeze_backbone={requested})) or leave the trainer's "
            "freeze_backbone=None."
        )
    return requested


def _trainable_state(adapter: RewardModuleAdapter, cfg: RewardTrainerConfig
                     ) -> dict[str, Tensor]:
    """The weights that training can change (the head only, when the backbone is frozen)."""
    state = adapter.model.state_dict()
    if not _resolve_frozen(cfg.freeze_backbone, adapter):
        return {k: v.detach().clone() for k, v in state.items()}
    frozen = {id(p) for p in adapter.backbone_parameters()}
    names = {n for n, p in adapter.model.named_parameters() if id(p) not in frozen}
    return {k: v.detach().clone() for k, v in state.items() if k in names}


class _TrainState:
    """Everything one ``fit`` call needs per step: tokens, cache, codes, optimizer."""

    def __init__(self) -> None:
        self.adapter: RewardModuleAdapter
        self.data: FeedbackDataset
        self.rows: list[dict] = []
        self._other: tuple[FeedbackDataset, list[dict]] | None = None
        self.item_len: np.ndarray
        self.features: Tensor | None = None
        self.codes: Tensor | None = None
        self.raw_cuts: Tensor | None = None
        self.ann_bias: Tensor | None = None
        self.frozen = False
        self.cache: dict[tuple[str, str], Tensor] = {}
        self.params: list[Tensor] = []
        self.optimizer: torch.optim.Optimizer
        self.cfg: RewardTrainerConfig

    @classmethod
    def build(cls, trainer: RewardModelTrainer, adapter: RewardModuleAdapter,
              train: FeedbackDataset, val: FeedbackDataset | None,
              annotators: Any) -> _TrainState:
        cfg = trainer.config
        st = cls()
        st.adapter, st.data, st.cfg = adapter, train, cfg
        st.frozen = _resolve_frozen(cfg.freeze_backbone, adapter)
        if st.frozen and not adapter.backbone_parameters():
            raise ConfigError(
                "freeze_backbone=True but the model names no backbone/encoder module."
            )
        for p in adapter.backbone_parameters():
            p.requires_grad_(not st.frozen)
        if st.frozen and cfg.cache_embeddings and adapter.splittable:
            st.cache = trainer.cache_for(adapter)
            st.features = _features_for(st.cache, adapter, train.items, cfg.embed_batch_size)
            st.item_len = np.ones(len(train.items))
        else:
            st.rows = adapter.tokenize(train.items)
            st.item_len = np.array([len(r["input_ids"]) for r in st.rows])
        st.codes = _annotator_codes(adapter, train.annotators, annotators)
        st._build_rating_params(train, val)
        st._build_optimizer()
        return st

    def _build_rating_params(self, train: FeedbackDataset, val: FeedbackDataset | None) -> None:
        if self.cfg.rating_objective != "ordinal" or not len(train.ratings):
            return
        if train.ratings.n_levels < 2:
            raise FeedbackError(
                "rating_objective='ordinal' needs every rating on one integer scale (e.g. "
                "Likert 1-7) with whole-number scores; use rating_objective='regression'."
            )
        dev = self.adapter.device
        self.raw_cuts = objectives.init_cuts(train.ratings.n_levels, device=dev)
        self.raw_cuts.requires_grad_(True)
        self.ann_bias = torch.zeros(len(train.annotators), device=dev, requires_grad=True)

    def _build_optimizer(self) -> None:
        cfg = self.cfg
        head = [p for p in self.adapter.head_parameters() if p.requires_grad]
        extra = [t for t in (self.raw_cuts, self.ann_bias) if t is not None]
        groups: list[dict[str, Any]] = [{"params": head + extra, "lr": cfg.head_lr}]
        if not self.frozen:
            backbone = self.adapter.backbone_parameters()
            if backbone:
                groups.append({"params": backbone, "lr": cfg.lr})
        self.params = [p for g in groups for p in g["params"]]
        if not self.params:
            raise ConfigError("the model has no trainable parameters.")
        self.optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)

    # -- scoring --------------------------------------------------------------------------
    def unit_scores(self, data: FeedbackDataset, items: np.ndarray, anns: np.ndarray,
                    rng: np.random.Generator | None, features: Tensor | None) -> Tensor:
        """Scores of (item, annotator) units; ``features`` is a cache aligned with
        ``data.items`` (``None``: run the encoder)."""
        ad = self.adapter
        codes = None
        if self.codes is not None:
            codes = self.codes[torch.as_tensor(anns, device=ad.device)]
            if rng is not None and self.cfg.attribute_dropout > 0:
                drop = torch.as_tensor(rng.random(len(anns)) < self.cfg.attribute_dropout,
                                       device=ad.device)
                codes = codes.masked_fill(drop.unsqueeze(1), 0)
        if features is not None:
            return ad.head_scores(features[torch.as_tensor(items, device=ad.device)], codes)
        uniq, inv = np.unique(items, return_inverse=True)
        rows = self._rows_for(data)
        tensors = ad.pad([rows[i] for i in uniq])
        inv_t = torch.as_tensor(inv.reshape(-1), device=ad.device)
        if ad.splittable and (codes is not None or self.frozen):
            pooled = ad.embed(tensors)
            return ad.head_scores(pooled[inv_t], codes)
        return ad.forward(tensors)[inv_t]

    def _rows_for(self, data: FeedbackDataset) -> list[dict]:
        """Token rows of ``data``'s items, tokenized once per data set."""
        if data is self.data:
            return self.rows
        if self._other is None or self._other[0] is not data:
            self._other = (data, self.adapter.tokenize(data.items))
        return self._other[1]

    def batch_loss(self, data: FeedbackDataset, batch: _Batch,
                   rng: np.random.Generator | None, train: bool,
                   features: Tensor | None = None) -> Tensor:
        """Weighted sum of the objectives over one batch."""
        if features is None and data is self.data:
            features = self.features
        items, anns, inv = _batch_units(data, batch, self.codes is not None)
        scores = self.unit_scores(data, items, anns, rng if train else None, features)[
            torch.as_tensor(inv, device=self.adapter.device)]
        return self._objectives(data, batch, scores)

    def _objectives(self, data: FeedbackDataset, batch: _Batch, scores: Tensor) -> Tensor:
        cfg, dev = self.cfg, self.adapter.device
        n_p, n_l = len(batch.pairs), len(batch.lists)
        k = data.lists.items.shape[1] if len(data.lists) else 0

        def t(x: np.ndarray) -> Tensor:
            return torch.as_tensor(x, device=dev)

        total = scores.new_zeros(())
        if n_p:
            p = data.pairs
            total = total + cfg.pair_weight * objectives.pairwise_loss(
                scores[:n_p], scores[n_p:2 * n_p], t(p.target[batch.pairs]),
                t(p.margin[batch.pairs]), t(p.weight[batch.pairs]), lapse=cfg.lapse_rate)
        if n_l:
            li = data.lists
            s = scores[2 * n_p:2 * n_p + n_l * k].reshape(n_l, k)
            total = total + cfg.ranking_weight * objectives.plackett_luce_loss(
                s, t(li.ranks[batch.lists]), t(li.valid[batch.lists]), t(li.weight[batch.lists]))
        if len(batch.ratings):
            total = total + cfg.rating_weight * self._rating_loss(
                data, batch.ratings, scores[2 * n_p + n_l * k:])
        return total

    def _rating_loss(self, data: FeedbackDataset, idx: np.ndarray, scores: Tensor) -> Tensor:
        r, dev = data.ratings, self.adapter.device
        weights = torch.as_tensor(r.weight[idx], device=dev)
        if self.raw_cuts is None or self.ann_bias is None:
            return objectives.regression_loss(
                scores, torch.as_tensor(r.target[idx], device=dev), weights)
        ann = torch.as_tensor(r.annotator[idx], device=dev)
        bias = self.ann_bias[ann.clamp(max=len(self.ann_bias) - 1)]
        return objectives.ordinal_loss(scores + bias, torch.as_tensor(r.level[idx], device=dev),
                                       self.raw_cuts, weights)

    @torch.no_grad()
    def validate(self, val: FeedbackDataset) -> dict[str, float]:
        """Validation loss and pairwise accuracy (ties and zero-weight pairs left out) in
        eval mode."""
        model = self.adapter.model
        was_training = model.training
        model.eval()
        try:
            feats = None
            if self.features is not None:
                feats = self._val_features(val)
            rng = np.random.default_rng(0)
            batches = make_batches(val, np.ones(len(val.items)), self.cfg.batch_size * 4, 1, rng)
            total, n, correct, n_pairs = 0.0, 0, 0, 0
            for batch in batches:
                size = len(batch.pairs) + len(batch.lists) + len(batch.ratings)
                total += float(self.batch_loss(val, batch, None, False, feats)) * size
                n += size
                c, m = self._pair_correct(val, batch, feats)
                correct, n_pairs = correct + c, n_pairs + m
        finally:
            model.train(was_training)
        out = {"val_loss": total / max(n, 1)}
        if n_pairs:
            out["val_accuracy"] = correct / n_pairs
            out["val_pairs"] = float(n_pairs)
        return out

    def _val_features(self, val: FeedbackDataset) -> Tensor:
        return _features_for(self.cache, self.adapter, val.items, self.cfg.embed_batch_size)

    def _pair_correct(self, data: FeedbackDataset, batch: _Batch,
                      feats: Tensor | None) -> tuple[int, int]:
        p = data.pairs  # ties and pairs of zero weight (e.g. a silenced annotator) left out
        keep = (p.target[batch.pairs] != 0.5) & (p.weight[batch.pairs] > 0)
        strict = batch.pairs[keep]
        if not len(strict):
            return 0, 0
        sub = _Batch(strict, np.zeros(0, np.int64), np.zeros(0, np.int64))
        items, anns, inv = _batch_units(data, sub, self.codes is not None)
        s = self.unit_scores(data, items, anns, None, feats)[
            torch.as_tensor(inv, device=self.adapter.device)]
        n = len(strict)
        return int((s[:n] > s[n:]).sum()), n


def _annotator_codes(adapter: RewardModuleAdapter, ids: Sequence[str], annotators: Any
                     ) -> Tensor | None:
    if not adapter.conditioned:
        return None
    if isinstance(annotators, Mapping):
        table = dict(annotators)
    else:
        table = {a.id: a for a in (annotators or ())}
    unknown = [i for i in ids if i not in table]
    if unknown and not table:
        raise FeedbackError(
            "an annotator-conditioned model needs the annotators' attributes; pass "
            "annotators=[Annotator(id, {...}), ...] (e.g. from the feedback store)."
        )
    return adapter.attribute_codes([table[i].attributes if i in table else None for i in ids])


def _features_for(cache: dict[tuple[str, str], Tensor], adapter: RewardModuleAdapter,
                  items: Sequence[tuple[str, str]], batch_size: int) -> Tensor:
    """Pooled embeddings of ``items`` ``(N, H)``, computing only those not in ``cache``."""
    missing = [it for it in dict.fromkeys(items) if it not in cache]
    if missing:
        emb = adapter.embed_all(adapter.tokenize(missing), batch_size)
        for it, vec in zip(missing, emb, strict=True):
            cache[it] = vec
    return torch.stack([cache[it] for it in items])


__all__ = ["RATING_OBJECTIVES", "RewardModelTrainer", "RewardTrainerConfig", "TrainResult",
           "make_batches"]
