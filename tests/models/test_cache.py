"""The model cache: build once, detect corruption, survive failures, kills and races."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rlhf_env.errors import CacheError
from rlhf_env.models import cache
from rlhf_env.models.cache import MANIFEST, ensure_built, is_valid

PAYLOAD = {"weights.bin": b"\x01\x02\x03" * 1000, "sub/config.json": b'{"a": 1}'}


class Builder:
    """A fake model build that writes :data:`PAYLOAD` and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, dest: Path) -> dict:
        self.calls += 1
        for rel, data in PAYLOAD.items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes(data)
        return {"build": self.calls}


def _assert_payload(folder: Path) -> None:
    for rel, data in PAYLOAD.items():
        assert (folder / rel).read_bytes() == data


def _entries(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "models").iterdir())


def test_builds_once_then_reuses(tmp_path: Path):
    build = Builder()
    first = ensure_built("m", build, root=tmp_path)
    second = ensure_built("m", build, root=tmp_path)
    assert first == second == tmp_path / "models" / "m"
    assert build.calls == 1
    _assert_payload(first)
    manifest = json.loads((first / MANIFEST).read_text())
    assert manifest["meta"] == {"build": 1}
    assert manifest["files"]["weights.bin"]["size"] == 3000
    assert [e for e in _entries(tmp_path) if e.startswith(".")] == []


def test_default_root_is_rlhf_env_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("RLHF_ENV_CACHE", str(tmp_path / "c"))
    assert ensure_built("m", Builder()) == tmp_path / "c" / "models" / "m"


def _truncate(folder: Path) -> None:
    path = folder / "weights.bin"
    path.write_bytes(path.read_bytes()[:-1])


def _flip(folder: Path) -> None:
    path = folder / "weights.bin"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))


def _drop_manifest(folder: Path) -> None:
    (folder / MANIFEST).unlink()


def _drop_file(folder: Path) -> None:
    (folder / "sub" / "config.json").unlink()


def _garble_manifest(folder: Path) -> None:
    (folder / MANIFEST).write_text("{not json")


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        (_truncate, "weights.bin has 2999 bytes, expected 3000"),
        (_flip, "weights.bin does not match its checksum"),
        (_drop_manifest, "no manifest"),
        (_drop_file, "missing file sub/config.json"),
        (_garble_manifest, "unreadable manifest"),
    ],
)
def test_corrupt_build_is_detected_and_rebuilt(tmp_path: Path, corrupt, reason: str):
    build = Builder()
    folder = ensure_built("m", build, root=tmp_path)
    corrupt(folder)
    ok, why = is_valid(folder)
    assert not ok and why.startswith(reason)
    assert ensure_built("m", build, root=tmp_path) == folder
    assert build.calls == 2
    _assert_payload(folder)
    assert is_valid(folder) == (True, "ok")
    assert [e for e in _entries(tmp_path) if e.startswith(".")] == []


def test_same_size_edit_with_restored_mtime_is_caught_by_a_new_process(tmp_path: Path):
    """Hashes are checked once per process; a fresh process (emulated) re-hashes."""
    build = Builder()
    folder = ensure_built("m", build, root=tmp_path)
    stat = (folder / "weights.bin").stat()
    _flip(folder)
    os.utime(folder / "weights.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    cache._VERIFIED.clear()
    assert is_valid(folder) == (False, "weights.bin does not match its checksum")
    ensure_built("m", build, root=tmp_path)
    assert build.calls == 2
    _assert_payload(folder)


def test_failing_builder_leaves_nothing_behind(tmp_path: Path):
    def build(dest: Path) -> dict:
        (dest / "half.bin").write_bytes(b"x" * 100)
        raise RuntimeError("conversion exploded")

    with pytest.raises(RuntimeError, match="conversion exploded"):
        ensure_built("m", build, root=tmp_path)
    assert set(_entries(tmp_path)) <= {"m.lock"}
    good = Builder()
    _assert_payload(ensure_built("m", good, root=tmp_path))
    assert good.calls == 1


def test_unwritable_cache_raises_cache_error_naming_the_variable(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("mkdir cannot create a folder under a regular file")
    build = Builder()
    with pytest.raises(CacheError) as info:
        ensure_built("m", build, root=blocker / "cache")
    msg = str(info.value)
    assert "is not writable and holds no valid build of 'm' (not built yet)" in msg
    assert "Point RLHF_ENV_CACHE at a writable folder" in msg
    assert build.calls == 0


# Child process for the race and kill tests: ensure_built with a slow, counting builder.
_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from rlhf_env.models.cache import ensure_built

    root, log, delay = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    starts, wait_for = log.with_suffix(".starts"), int(sys.argv[4])

    def build(dest):
        with log.open("a") as fh:
            fh.write(f"{os.getpid()}\\n")
        (dest / "part1.bin").write_bytes(b"a" * 4096)
        deadline = time.time() + 30  # hold the build until every racer has started
        while len(starts.read_text().split()) < wait_for and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        (dest / "part2.bin").write_bytes(b"b" * 4096)
        return {"pid": os.getpid(), "finished": time.time()}

    with starts.open("a") as fh:
        fh.write(f"{time.time()}\\n")
    print(ensure_built("m", build, root=root), flush=True)
    """
)


def _spawn(root: Path, log: Path, delay: float, racers: int = 1) -> subprocess.Popen:
    """Run ``_CHILD``; its build waits for ``racers`` processes to start, then ``delay`` s."""
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root), str(log), str(delay), str(racers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_processes_build_exactly_once(tmp_path: Path):
    log = tmp_path / "builds.log"
    procs = [_spawn(tmp_path, log, 1.0, racers=2) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    folders = {out.strip() for out, _ in outs}
    assert folders == {str(tmp_path / "models" / "m")}
    assert len(log.read_text().split()) == 1
    assert is_valid(tmp_path / "models" / "m") == (True, "ok")
    finished = json.loads((tmp_path / "models" / "m" / MANIFEST).read_text())["meta"]["finished"]
    starts = [float(t) for t in log.with_suffix(".starts").read_text().split()]
    assert len(starts) == 2 and max(starts) < finished  # the second one really had to wait
    assert (tmp_path / "models" / "m" / "part2.bin").read_bytes() == b"b" * 4096


def test_killed_build_leaves_no_valid_folder_and_is_rebuilt(tmp_path: Path):
    log = tmp_path / "builds.log"
    proc = _spawn(tmp_path, log, 60.0)
    deadline = time.monotonic() + 30
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.exists(), proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    final = tmp_path / "models" / "m"
    assert not final.exists()
    assert any(e.startswith(".build-m-") for e in _entries(tmp_path))  # the killed temp folder
    build = Builder()
    _assert_payload(ensure_built("m", build, root=tmp_path))
    assert build.calls == 1
    assert set(_entries(tmp_path)) == {"m", "m.lock"}  # the leftover temp folder is gone


def test_leftovers_of_a_longer_name_are_not_touched(tmp_path: Path):
    other = tmp_path / "models" / ".build-m-large-abc123"
    other.mkdir(parents=True)
    ensure_built("m", Builder(), root=tmp_path)
    assert other.exists()


def test_unwritable_cache_still_serves_a_valid_build(tmp_path: Path, monkeypatch):
    build = Builder()
    folder = ensure_built("m", build, root=tmp_path)
    monkeypatch.setattr(cache, "_writable", lambda root: False)
    assert ensure_built("m", build, root=tmp_path) == folder
    assert build.calls == 1


def test_lock_held_too_long_says_which_file_to_delete(tmp_path: Path):
    from filelock import FileLock

    (tmp_path / "models").mkdir()
    lock_path = tmp_path / "models" / "m.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from filelock import FileLock\n"
         "with FileLock(sys.argv[1]):\n    print('held', flush=True); time.sleep(30)",
         str(lock_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(CacheError, match=r"waited 0\.2 s for another process building 'm'.*"
                                             r"If no such process is running, delete .*m\.lock"):
            ensure_built("m", Builder(), root=tmp_path, lock_timeout=0.2)
    finally:
        holder.kill()
        holder.wait()
    assert not FileLock(str(lock_path)).is_locked
    _assert_payload(ensure_built("m", Builder(), root=tmp_path))


def test_full_disk_during_a_build_is_a_cache_error(tmp_path: Path):
    import errno

    def build(dest: Path) -> dict:
        (dest / "part.bin").write_bytes(b"x")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(cache.CacheNotWritableError,
                       match=r"No space left on device\). Free some space there or point "
                             r"RLHF_ENV_CACHE at another folder"):
        ensure_built("m", build, root=tmp_path)
    assert set(_entries(tmp_path)) <= {"m.lock"}


def test_other_os_errors_of_a_builder_propagate_unchanged(tmp_path: Path):
    def build(dest: Path) -> dict:
        raise FileNotFoundError("the source file vanished")

    with pytest.raises(FileNotFoundError, match="the source file vanished"):
        ensure_built("m", build, root=tmp_path)
