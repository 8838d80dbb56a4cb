"""20 annotators at once against a real server process, and the server SIGKILLed mid-load.

Bounded: the load runs ``LOAD_SECONDS`` (a minute), the kill test about 10 s. The p95
response time is printed (run with ``-s`` to see it) and must stay under 2 s on a shared
2-CPU box.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx

from rlhf_env.feedback.store import FeedbackStore

LOAD_SECONDS = 60.0
ANNOTATORS = 20


def make_store(path: Path, items: int, labels_wanted: int) -> dict[str, str]:
    store = FeedbackStore(path)
    store.enqueue_many([{"kind": "comparison", "prompt": f"prompt {i}",
                         "responses": [f"a{i}", f"b{i}"], "labels_wanted": labels_wanted}
                        for i in range(items)])
    tokens = {f"ann{i:02d}": store.issue_token(f"ann{i:02d}") for i in range(ANNOTATORS)}
    store.close()
    return tokens


async def annotate(url: str, who: str, token: str, until: float, acks: list, lat: list,
                   stop_on_error: bool = False) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10.0) as client:
        while time.monotonic() < until:
            try:
                t0 = time.perf_counter()
                r = await client.get("/api/next")
                lat.append(time.perf_counter() - t0)
                item = r.json()["item"]
                if item is None:
                    return
                t0 = time.perf_counter()
                r = await client.post("/api/answer", json={
                    "item_id": item["item_id"], "choice": "left", "duration_s": 0.5})
                lat.append(time.perf_counter() - t0)
                if r.status_code == 200:
                    acks.append((who, item["item_id"], r.json()["record_id"]))
            except httpx.TransportError:
                if stop_on_error:
                    return
                await asyncio.sleep(0.1)
            except ValueError:  # a non-JSON answer: count it as slow, try again
                await asyncio.sleep(0.1)


def run_clients(url: str, tokens: dict[str, str], seconds: float, acks: list, lat: list,
                stop_on_error: bool = False) -> None:
    until = time.monotonic() + seconds

    async def main() -> None:
        await asyncio.gather(*(annotate(url, w, t, until, acks, lat, stop_on_error)
                               for w, t in tokens.items()))

    asyncio.run(main())


def check_store(path: Path, acks: list, labels_wanted: int) -> None:
    store = FeedbackStore(path)
    records = store.records()
    ids = Counter(r.content_hash for r in records)
    for who, _item, rid in acks:
        assert ids[rid] == 1, f"acknowledged answer {rid[:10]} of {who} is stored {ids[rid]}x"
    per_item = Counter(r.metadata["queue_item"] for r in records)
    assert max(per_item.values()) <= labels_wanted  # never beyond the overlap
    pairs = Counter((r.annotator, r.metadata["queue_item"]) for r in records)
    assert max(pairs.values()) == 1  # never the same item twice to one person
    assert store.integrity_check() == "ok"
    store.close()


def test_twenty_concurrent_annotators(tmp_path, server_factory):
    db = tmp_path / "load.db"
    tokens = make_store(db, items=2500, labels_wanted=3)  # more than a minute can use up
    srv = server_factory(db)
    acks: list = []
    lat: list = []
    run_clients(srv.url, tokens, LOAD_SECONDS, acks, lat)
    srv.stop()
    lat.sort()
    p95 = lat[int(0.95 * (len(lat) - 1))]
    print(f"\n[load] {ANNOTATORS} annotators, {LOAD_SECONDS:.0f} s: {len(acks)} answers "
          f"acknowledged, {len(lat)} requests, p50 {1000 * lat[len(lat) // 2]:.0f} ms, "
          f"p95 {1000 * p95:.0f} ms")
    assert len(acks) >= 100
    assert len({a[2] for a in acks}) == len(acks)
    check_store(db, acks, labels_wanted=3)
    assert FeedbackStore(db).count() == len(acks)  # nothing stored that was not acknowledged
    assert p95 < 2.0


def test_sigkill_mid_load_loses_nothing_and_leases_come_back(tmp_path, server_factory):
    db = tmp_path / "kill.db"
    tokens = make_store(db, items=300, labels_wanted=1)
    srv = server_factory(db, "--lease-seconds", "2")
    acks: list = []
    lat: list = []
    import threading

    worker = threading.Thread(target=run_clients,
                              args=(srv.url, tokens, 25.0, acks, lat, True))
    worker.start()
    deadline = time.monotonic() + 15.0
    while len(acks) < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    srv.kill()  # SIGKILL while requests are in flight
    worker.join(20)
    assert acks, "no answer was acknowledged before the kill"
    check_store(db, acks, labels_wanted=1)
    store = FeedbackStore(db)
    stranded = {lease.item.item_id for lease in store.leases()}
    store.close()
    assert stranded, "the killed server left no lease behind to test expiry with"
    srv2 = server_factory(db, "--lease-seconds", "2")
    newcomer = FeedbackStore(db).issue_token("newcomer")
    time.sleep(2.2)  # the dead session's leases expire
    pending = {i.item_id for i in FeedbackStore(db).pending("newcomer")}
    assert stranded <= pending, f"items {sorted(stranded - pending)} stayed leased"
    headers = {"Authorization": f"Bearer {newcomer}"}
    with httpx.Client(base_url=srv2.url, headers=headers) as client:
        item = client.get("/api/next").json()["item"]
    assert item["item_id"] == min(pending)  # handed out again, in queue order
    check_store(db, acks, labels_wanted=1)
