"""Word lists behind the tasks' restricted action vocabularies.

A restricted action space lets a small MLP policy pick among a few hundred useful tokens
instead of a whole vocabulary. Each word becomes one action when the tokenizer encodes
``" " + word`` as a single token (true for all of these with SmolLM2's tokenizer and with the
shipped tiny tokenizer, which is trained on these lists).
"""

from __future__ import annotations

POSITIVE = (
    "good great love happy nice fun best wonderful amazing excellent perfect lovely "
    "beautiful friendly kind brilliant fantastic pleasant delicious fresh clean "
    "comfortable helpful enjoyed glad awesome cool sweet warm calm easy fast safe"
).split()

NEGATIVE = (
    "bad sad hate awful terrible worst poor rude dirty slow broken boring angry "
    "horrible ugly cold late noisy expensive disappointing annoying wrong sick tired"
).split()

NEUTRAL = (
    "the a an and but or so very really quite too not no it this that they we you "
    "i my our was is are were be been have had do did will would can could "
    "of in on at to for with from by about as after before then there here "
    "day time food service staff room place trip train city park book movie "
    "team work home phone coffee meal people experience weather price music "
    "new old big small long short first last next today again still just more most"
).split()

PUNCTUATION = [".", "!", ",", "?"]

SENTIMENT_WORDS: tuple[str, ...] = tuple(POSITIVE + NEGATIVE + NEUTRAL + PUNCTUATION)
"""Candidates for the ``sentiment`` task's restricted action vocabulary."""

KEYWORDS: tuple[str, ...] = ("good", "great", "happy", "love")
"""Targets of the ``keyword`` rule task."""
