"""Proxy reward models learned here from a gold judge, after Gao et al. (2022).

The protocol of "Scaling laws for reward model overoptimization", at CPU scale::

    task prompts × candidate responses (a cheap seeded generator, below)
        ──pairs──▶ SyntheticLabeler(gold judge, a population of AnnotatorProfiles)
        ──N comparisons──▶ RewardModelTrainer (Bradley–Terry; a linear head on frozen
                           all-MiniLM-L6-v2 embeddings) ──▶ saved folder = the proxy

The agent then optimises the proxy while the report scores the gold judge, so
over-optimisation shows up as gold falling while the proxy still rises.

**Candidate responses.** Sampling a language model for thousands of responses costs minutes
per task on 2 CPU cores, so candidates come from cheap seeded generators instead:

* ``"sentiment"``: 2–24 words drawn from the positive, negative and neutral word lists of
  the ``sentiment`` task (each response with its own positive share), sometimes opened with
  a confident word ("definitely") or closed with a flattering phrase ("great question") from
  the labeler's own bias lists, so annotator biases have something to act on;
* ``"arithmetic"``: answers to the prompt's ``a + b`` question in a few templates ("7",
  "The answer is 7.", "3 + 4 = 7"), right about a third of the time, else off by a few,
  sometimes confident, sometimes with no number at all.

**Reproducible.** Pairs, annotator draws, the head's initial weights and the trainer's batch
order all come from :attr:`GaoProxy.seed`: the same spec gives byte-identical weights.
:meth:`GaoProxy.prepare` caches the folder under ``cache_dir/<name>-<digest of the spec>``
and returns ``{"reward_model": <folder>}`` for the env.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.errors import ConfigError

GENERATORS = ("sentiment", "arithmetic")
CONFIDENT = ("definitely", "certainly", "clearly", "absolutely", "of course")
"""Openers the sentiment generator may use (all on the labeler's confident-word list)."""
FLATTERING = ("great question", "you are right", "happy to help", "good point")
"""Closers the sentiment generator may use (all on the labeler's flattering-phrase list)."""


@dataclass(frozen=True)
class Annotators:
    """A simulated annotator population (expanded into ``AnnotatorProfile``s)."""

    size: int = 8
    """Number of simulated annotators; each comparison goes to one of them at random."""
    temperature: float = 0.3
    """Median Boltzmann temperature, in gold-score units (0: always the better one)."""
    temperature_spread: float = 0.5
    """Std of the log-temperature across annotators."""
    error_rate: float = 0.05
    """Mean slip probability (the opposite answer)."""
    length_bias: float = 0.0
    """Mean utility per ``log(1 + characters)`` (> 0: longer answers look better)."""
    confidence_bias: float = 0.0
    """Mean utility per confident word."""
    flattery_bias: float = 0.0
    """Mean utility per flattering phrase."""
    bias_spread: float = 0.25
    """Each annotator's biases are the means times ``1 ± bias_spread`` (uniform)."""

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ConfigError(f"Annotators.size must be >= 1, got {self.size}.")
        if not 0 <= self.error_rate <= 1 or self.temperature < 0 or self.bias_spread < 0:
            raise ConfigError("Annotators: error_rate must lie in [0, 1] and temperature and "
                              "bias_spread must be >= 0.")

    def profiles(self, seed: int) -> tuple[Any, ...]:
        """``size`` distinct ``AnnotatorProfile``s drawn from ``seed``."""
        from rlhf_env.feedback.learning.labelers import AnnotatorProfile

        rng = np.random.default_rng([seed, 7])
        temps = self.temperature * np.exp(rng.normal(0, self.temperature_spread, self.size))
        scale = rng.uniform(1 - self.bias_spread, 1 + self.bias_spread, (self.size, 3))
        return tuple(AnnotatorProfile(id=f"sim{i}", temperature=float(temps[i]),
                             error_rate=self.error_rate,
                             length_bias=self.length_bias * float(scale[i, 0]),
                             confidence_bias=self.confidence_bias * float(scale[i, 1]),
                             flattery_bias=self.flattery_bias * float(scale[i, 2]))
                     for i in range(self.size))


@dataclass(frozen=True)
class GaoProxy:
    """How one task's proxy reward model is learned; :meth:`prepare` is the task's
    ``BenchTask.prepare``."""

    name: str
    """Stem of the cache folder (the task name)."""
    gold: str
    """Reward-model spec of the gold judge the annotators follow (e.g. ``"vader"``)."""
    prompts: tuple[str, ...]
    """Prompts the comparisons are asked on (the task's training prompts)."""
    generator: str
    """Candidate-response generator: one of :data:`GENERATORS`."""
    labels: int = 2000
    """N: pairwise comparisons the proxy is trained on."""
    annotators: Annotators = Annotators()
    """Who labels (noise and human biases)."""
    seed: int = 0
    """Seeds pairs, annotators, labels, head initialisation and training."""
    backbone: str = "all-minilm-l6-v2"
    """Frozen sentence encoder under the linear head (``tiny-random-bert`` in tests)."""
    epochs: int = 30
    """Maximum training epochs (early stopping on 10% held-out labels)."""

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise ConfigError(f"GaoProxy.generator must be one of {GENERATORS}, got "
                              f"{self.generator!r}.")
        if self.labels < 8:
            raise ConfigError(f"GaoProxy.labels must be >= 8 comparisons, got {self.labels}.")
        if not self.prompts:
            raise ConfigError("GaoProxy.prompts must hold at least one prompt.")

    def digest(self) -> str:
        """Short hash of every field: a changed spec never reuses a stale folder."""
        body = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:12]

    def folder(self, cache_dir: Path) -> Path:
        return Path(cache_dir) / f"{self.name}-{self.digest()}"

    def prepare(self, cache_dir: Path) -> Mapping[str, Any]:
        """Train (once) and save the proxy; returns ``{"reward_model": folder}``."""
        folder = self.folder(cache_dir)
        if not (folder / "config.json").is_file():
            _write_atomically(folder, self.train)
        return {"reward_model": str(folder)}

    def comparisons(self) -> list[Any]:
        """The N labelled comparisons (records), reproducible from :attr:`seed`."""
        from rlhf_env.feedback.learning.labelers import SyntheticLabeler, SyntheticLabelerConfig
        from rlhf_env.rewards import make_reward_model

        rng = np.random.default_rng([self.seed, 1])
        prompts = [self.prompts[int(i)] for i in rng.integers(len(self.prompts), size=self.labels)]
        pairs = [distinct_pair(self.generator, p, rng) for p in prompts]
        first, second = [a for a, _ in pairs], [b for _, b in pairs]
        config = SyntheticLabelerConfig(population=self.annotators.profiles(self.seed))
        labeler = SyntheticLabeler(make_reward_model(self.gold), config, seed=self.seed,
                                   task=self.name)
        return list(labeler.compare(prompts, first, second))

    def train(self, folder: Path) -> None:
        """Label, fit the head, save to ``folder``."""
        import torch

        from rlhf_env.feedback.learning.training import RewardModelTrainer, RewardTrainerConfig
        from rlhf_env.rewards.encoder_head import EncoderHeadReward

        records = self.comparisons()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = EncoderHeadReward(backbone=self.backbone, name=f"{self.name} proxy",
                                      label_info={"higher": f"preferred by annotators of "
                                                            f"{self.gold}"})
        config = RewardTrainerConfig(
            epochs=self.epochs, batch_size=64, head_lr=3e-3, patience=3, seed=self.seed,
            device="cpu", freeze_backbone=True)
        result = RewardModelTrainer(config).fit(model, records)
        model.training_metadata = {"protocol": "gao2022", "spec": dataclasses.asdict(self),
                                   "history": result.history}
        model.save_pretrained(folder)


def _write_atomically(folder: Path, write: Any) -> None:
    """``write(tmp)`` then rename to ``folder``: concurrent callers never see half a folder."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        write(tmp)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "config.json").is_file():  # not another process's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- candidate generators ------------------------------------------------------------------
def candidate(generator: str, prompt: str, rng: np.random.Generator) -> str:
    """One candidate response to ``prompt`` from a :data:`GENERATORS` generator."""
    return sentiment_candidate(rng) if generator == "sentiment" else arithmetic_candidate(
        prompt, rng)


def distinct_pair(generator: str, prompt: str, rng: np.random.Generator) -> tuple[str, str]:
    """Two different candidates (a comparison of identical answers is meaningless)."""
    first = candidate(generator, prompt, rng)
    for _ in range(100):
        second = candidate(generator, prompt, rng)
        if second != first:
            return first, second
    raise ConfigError(f"the {generator!r} generator keeps answering {prompt!r} with "
                      f"{first!r}; it cannot make comparisons for this prompt.")


def sentiment_candidate(rng: np.random.Generator) -> str:
    """2–24 sentiment-task words with a random positive share; maybe confident or
    flattering."""
    from rlhf_env.text.words import NEGATIVE, NEUTRAL, POSITIVE

    n = int(rng.integers(2, 25))
    positive_share = rng.random()
    kinds = rng.random(n)
    words = [str(rng.choice(NEUTRAL)) if k < 0.5 else
             str(rng.choice(POSITIVE if rng.random() < positive_share else NEGATIVE))
             for k in kinds]
    if rng.random() < 0.3:
        words.insert(0, str(rng.choice(CONFIDENT)))
    if rng.random() < 0.3:
        words.append(str(rng.choice(FLATTERING)))
    return " ".join(words)


def arithmetic_candidate(prompt: str, rng: np.random.Generator) -> str:
    """An answer to the prompt's question: right about a third of the time."""
    from rlhf_env.bench.judges import question_answer

    answer = question_answer(prompt)
    if rng.random() < 0.1:
        return str(rng.choice(["I am not sure.", "Let me think.", "Good question!"]))
    number = answer if rng.random() < 0.35 else answer + int(rng.choice([-1, 1])) * int(
        rng.integers(1, 6))
    text = str(rng.choice(["{n}", "The answer is {n}.", "It is {n}.", "= {n}"])).format(n=number)
    if rng.random() < 0.3:
        text = f"{rng.choice(CONFIDENT).capitalize()}, {text}"
    return text


def arithmetic_prompts(count: int, seed: int) -> tuple[str, ...]:
    """``count`` distinct ``"What is a + b?"`` prompts (+, − and × on 1–20), seeded."""
    rng = np.random.default_rng(seed)
    found: dict[str, None] = {}
    while len(found) < count:
        a, b = (int(x) for x in rng.integers(1, 21, size=2))
        op = str(rng.choice(["+", "+", "-", "×"]))
        found[f"What is {a} {op} {b}? Answer with the number."] = None
    return tuple(found)
