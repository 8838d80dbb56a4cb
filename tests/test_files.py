"""Atomic writes: a write lands whole or not at all, and JSON is always strict."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rlhf_env.files import atomic_open, write_json, write_text


def test_write_json_is_strict_and_plain(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    write_json(path, {"a": np.float32(1.5), "b": [float("inf"), np.int64(3)], "c": np.arange(2),
                      "d": float("nan")})
    text = path.read_text()
    assert json.loads(text) == {"a": 1.5, "b": [None, 3], "c": [0, 1], "d": None}
    assert "NaN" not in text and "Infinity" not in text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "keep.txt"
    write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_open(path) as fh:
        fh.write("half of the new")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_the_new_content_replaces_the_old(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    with atomic_open(path, "wb") as fh:
        fh.write(b"\x00\x01")
    write_text(path, "text")
    assert path.read_text() == "text"
    with pytest.raises(ValueError, match="whole files"), atomic_open(path, "a"):
        pass


@pytest.mark.parametrize("content", ["text", "npy"])
def test_read_npz_of_a_non_archive_never_suggests_allow_pickle(tmp_path, content):
    """np.load took any non-zip file for a pickle and told the user to pass
    allow_pickle=True; a lone .npy array under an .npz name was an AttributeError."""
    import numpy as np

    from rlhf_env.errors import ConfigError
    from rlhf_env.files import read_npz

    path = tmp_path / "demos.npz"
    if content == "npy":
        with open(path, "wb") as fh:
            np.save(fh, np.arange(3))
    else:
        path.write_bytes(b"\xff\xfe not an archive\n")
    with pytest.raises(ConfigError) as info:
        read_npz(path, "demonstrations file")
    message = str(info.value)
    assert "not an .npz archive" in message and str(path) in message
    assert "allow_pickle" not in message


def test_written_files_get_a_plain_files_mode_not_the_temp_files(tmp_path: Path) -> None:
    """The temporary file is private (0600); what lands has the mode ``open`` would give it
    (or keeps the mode of the file it replaces), so reports and exports stay shareable."""
    from rlhf_env import files

    new = tmp_path / "report.md"
    write_text(new, "x")
    assert new.stat().st_mode & 0o777 == 0o666 & ~files._UMASK
    kept = tmp_path / "secret.json"
    kept.write_text("{}")
    kept.chmod(0o640)
    write_json(kept, {"a": 1})
    assert kept.stat().st_mode & 0o777 == 0o640
    with files.atomic_folder(tmp_path / "folder") as folder:
        (folder / "f").write_text("y")
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o777 & ~files._UMASK
