"""Assignment: leases, overlap, caps, expiry, undo and tokens in the store's queue."""

from __future__ import annotations

import time

import pytest

from rlhf_env.errors import QueueConflictError
from rlhf_env.feedback import Comparison
from rlhf_env.feedback.store import FeedbackStore


@pytest.fixture
def store() -> FeedbackStore:
    return FeedbackStore(":memory:")


def answer(store: FeedbackStore, item_id: int, who: str, pref: str = "a") -> None:
    item = store.queue_item(item_id)
    store.complete(item_id, Comparison(item.prompt, *item.responses, pref, annotator=who))


def test_lease_counts_against_overlap_and_expires(store):
    i = store.enqueue("comparison", "p", ["x", "y"], labels_wanted=1)
    lease = store.claim("alice", lease_s=0.3)
    assert lease is not None and lease.item.item_id == i
    assert store.claim("bob") is None  # the only wanted answer is leased to alice
    with pytest.raises(QueueConflictError, match="already has the 1 answer"):
        answer(store, i, "bob")  # answering without a lease cannot exceed the overlap
    time.sleep(0.35)
    again = store.claim("bob")  # alice's lease expired: the item came back
    assert again is not None and again.item.item_id == i
    answer(store, i, "bob")
    with pytest.raises(QueueConflictError):
        answer(store, i, "alice")  # too late: the item has its answer
    assert store.count() == 1


def test_overlap_k_never_twice_and_priority(store):
    lo = store.enqueue("comparison", "low", ["x", "y"], labels_wanted=2)
    hi = store.enqueue("comparison", "high", ["x", "y"], labels_wanted=2, priority=9)
    got = {}
    for who in ("a", "b", "c"):
        lease = store.claim(who, max_leases=1)
        got[who] = lease.item.item_id if lease else None
    assert got == {"a": hi, "b": hi, "c": lo}  # priority order, two annotators per item
    for who in ("a", "b"):
        answer(store, hi, who)
    assert store.claim("a", exclude=[]).item.item_id == lo  # type: ignore[union-attr]
    answer(store, lo, "a")
    assert store.claim("a") is None  # never the same item twice
    answer(store, lo, "c")
    assert store.claim("d") is None  # every item has its k answers


def test_cap_resume_and_exclude(store):
    ids = [store.enqueue("comparison", f"p{i}", ["x", "y"]) for i in range(5)]
    first = store.claim("a", max_leases=2)
    assert store.claim("a", max_leases=2).item.item_id == first.item.item_id  # reload: same
    second = store.claim("a", max_leases=2, exclude=[first.item.item_id])
    assert second.item.item_id == ids[1]
    assert store.claim("a", max_leases=2, exclude=ids[:2]) is None  # capped at 2 held
    assert store.queue_load()["leased"] == 2
    assert store.release("a") == 2 and store.queue_load()["leased"] == 0


def test_shown_order_is_stored_and_stable(store):
    orders = set()
    for i in range(12):
        store.enqueue("ranking", f"p{i}", ["r1", "r2", "r3"])
    for _ in range(12):
        lease = store.claim("ann", max_leases=1)
        assert store.claim("ann", max_leases=1).shown_order == lease.shown_order
        orders.add(lease.shown_order)
        item = lease.item
        rec = item.answer_record([[j] for j in lease.shown_order], annotator="ann")
        assert store.complete(item.item_id, rec).metadata["shown_order"] == list(
            lease.shown_order)
    assert len(orders) > 1  # randomised per annotator and item


def test_undo_retracts_and_offers_again(store):
    i = store.enqueue("comparison", "p", ["x", "y"])
    answer(store, i, "a")
    assert store.claim("a") is None
    old = store.undo(i, "a")
    assert old is not None and store.count() == 0
    assert store.count(include_retracted=True) == 1  # history kept
    assert store.claim("a").item.item_id == i  # type: ignore[union-attr]
    with pytest.raises(QueueConflictError, match="no answer"):
        store.undo(i, "b")


def test_tokens_are_hashed_and_revocable(store):
    token = store.issue_token("alice")
    assert store.token_owner(token) == ("alice", "annotator")
    raw = store._conn.execute("SELECT token_hash FROM access_tokens").fetchone()[0]
    assert token not in raw
    assert store.token_owner("x" * 32) is None
    assert store.revoke_tokens("alice") == 1 and store.token_owner(token) is None


def test_enqueue_many_is_all_or_nothing(store):
    with pytest.raises(Exception, match="needs 2 response"):
        store.enqueue_many([{"kind": "comparison", "prompt": "p", "responses": ["x", "y"]},
                            {"kind": "comparison", "prompt": "p", "responses": ["x"]}])
    assert store.queue_status()["items"] == 0
