"""The dashboard flags annotators who answer too fast or always pick one screen side."""

from __future__ import annotations

from rlhf_env.feedback import Comparison
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.web.config import ServeConfig
from rlhf_env.web.dashboard import build_dashboard


def test_flags_fast_and_one_sided_annotators():
    store = FeedbackStore(":memory:")
    for i in range(12):
        store.enqueue("comparison", f"p{i}", [f"x{i}", f"y{i}"], labels_wanted=2,
                      gold="a" if i < 4 else None)
    for who, secs in (("careful", 8.0), ("clicker", 0.4)):
        while (lease := store.claim(who, max_leases=1)) is not None:
            item, order = lease.item, lease.shown_order
            # careful picks "x" wherever it is; clicker always takes the left response
            pref = "a" if who == "careful" else ("a" if order[0] == 0 else "b")
            store.complete(item.item_id, Comparison(item.prompt, *item.responses, pref,
                                                    annotator=who, duration_s=secs))
    d = build_dashboard(store, ServeConfig())
    rows = {r.annotator: r for r in d.annotators}
    assert rows["careful"].flags == () and rows["careful"].gold == "4/4 (100%)"
    assert any(f.startswith("fast") for f in rows["clicker"].flags)
    assert any(f == "one side: picked left 12/12" for f in rows["clicker"].flags)
    assert d.total == 24 and d.queue["open"] == 0
    assert d.to_dict()["annotators"][0]["annotator"] in ("careful", "clicker")
