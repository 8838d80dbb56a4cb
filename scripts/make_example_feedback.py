"""Write the small example feedback file that ships with rlhf-env.

``rlhf_env/data/feedback/reviews.jsonl`` holds 300 comparisons of one-line reviews (of a
café, a hotel, a film…) by three simulated annotators, in the JSONL layout that
``rlhf_env.feedback.import_jsonl`` reads. Every review is written from templates with a
planned sentiment level from −2 (awful) to +2 (wonderful); each comparison pairs two
reviews of the same thing with different levels and prefers the higher one, except that an
annotator slips on 12% of the close calls (levels one apart) and 3% of the others, as
people do. The file is small on purpose: it is what a newcomer's first labelling session
looks like, and what the README's reward-model snippet trains on.

Deterministic (seed 0, fixed timestamps): running it again rewrites the same bytes.

    python scripts/make_example_feedback.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlhf_env.feedback.examples import EXAMPLE_COMPARISONS  # noqa: E402
from rlhf_env.feedback.io import export_jsonl  # noqa: E402
from rlhf_env.feedback.records import Annotator, Comparison  # noqa: E402

SUBJECTS = {
    "the café": ("coffee", "the staff", "the cake"),
    "the hotel": ("the room", "the staff", "breakfast"),
    "the film": ("the story", "the acting", "the ending"),
    "the phone": ("the battery", "the screen", "the camera"),
    "the train ride": ("the seats", "the crew", "the timing"),
    "the book": ("the plot", "the characters", "the writing"),
    "the restaurant": ("the food", "the service", "dessert"),
    "the concert": ("the band", "the sound", "the crowd"),
}
TEMPLATES = {
    2: ("Wonderful, {part} was superb and I loved every minute.",
        "Absolutely brilliant, {part} was a delight. I would go back tomorrow.",
        "One of the best I have had: {part} was excellent and everyone was happy."),
    1: ("Pretty good overall; {part} was nice.",
        "A pleasant time, {part} was better than I expected.",
        "Solid and enjoyable, {part} was good value."),
    0: ("It was fine; {part} was about what you would expect.",
        "Nothing special either way; {part} was ordinary.",
        "Average, and {part} was neither good nor bad."),
    -1: ("A bit disappointing; {part} was weak.",
         "Not great, {part} was worse than I hoped.",
         "Mediocre at best, {part} let it down."),
    -2: ("Awful, {part} was terrible and I regret going.",
         "A complete waste of money, {part} was dreadful.",
         "Horrible from start to finish; {part} was the worst I have seen."),
}
ANNOTATORS = (Annotator("ann-1", {"expertise": "regular"}),
              Annotator("ann-2", {"expertise": "regular"}),
              Annotator("ann-3", {"expertise": "critic"}))
N_COMPARISONS = 300
START = 1_717_200_000.0  # 2024-06-01, fixed so the file is reproducible


def review(part: str, level: int, rng: random.Random) -> str:
    text = rng.choice(TEMPLATES[level]).format(part=part)
    return text[0].upper() + text[1:]


def comparison(i: int, rng: random.Random) -> Comparison:
    subject = rng.choice(sorted(SUBJECTS))
    level_a, level_b = rng.sample(sorted(TEMPLATES), 2)
    a = review(rng.choice(SUBJECTS[subject]), level_a, rng)
    b = review(rng.choice(SUBJECTS[subject]), level_b, rng)
    while b == a:
        b = review(rng.choice(SUBJECTS[subject]), level_b, rng)
    better = "a" if level_a > level_b else "b"
    slip = 0.12 if abs(level_a - level_b) == 1 else 0.03
    if rng.random() < slip:
        better = "b" if better == "a" else "a"
    return Comparison(f"Write a one-line review of {subject}.", a, b, better,
                      annotator=ANNOTATORS[i % len(ANNOTATORS)].id, task="reviews",
                      timestamp=START + 37.0 * i)


def main() -> None:
    import tempfile

    from rlhf_env.feedback.store import FeedbackStore

    rng = random.Random(0)
    records = [comparison(i, rng) for i in range(N_COMPARISONS)]
    with tempfile.TemporaryDirectory() as tmp:
        store = FeedbackStore(Path(tmp) / "example.db")
        store.add_many(records, annotators=ANNOTATORS)
        export_jsonl(store, EXAMPLE_COMPARISONS)  # annotators first, then the records
        store.close()
    print(f"wrote {len(records)} comparisons to {EXAMPLE_COMPARISONS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
