import os
import stat

import pytest

from zeroin._io import atomic_open


def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_file_appears_whole_and_no_temp_left(tmp_path):
    path = tmp_path / "out.bin"
    data = os.urandom(100_000)
    with atomic_open(path) as f:
        f.write(data[:50_000])
        assert not path.exists()              # nothing at the target until the block ends
        f.write(data[50_000:])
    assert path.read_bytes() == data
    assert _leftovers(tmp_path, {"out.bin"}) == []


def test_text_mode_is_utf8(tmp_path):
    path = tmp_path / "t.txt"
    with atomic_open(path, "w") as f:
        f.write("dz/db = 15 \u2202")
    assert path.read_bytes() == "dz/db = 15 \u2202".encode("utf-8")


def test_creates_missing_folder(tmp_path):
    path = tmp_path / "a" / "b" / "c.json"
    with atomic_open(path, "w") as f:
        f.write("{}")
    assert path.read_text() == "{}"


@pytest.mark.parametrize("suffix", [".tmp", ".part"])
def test_exception_keeps_old_file_and_removes_temp(tmp_path, suffix):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old contents")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(path, suffix=suffix) as f:
            f.write(b"new but half")
            assert _leftovers(tmp_path, {"model.npz"})[0].endswith(suffix)
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old contents"
    assert _leftovers(tmp_path, {"model.npz"}) == []


def test_exception_without_old_file_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(tmp_path / "x.png") as f:
            f.write(b"abc")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_replaces_existing_file(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("old")
    with atomic_open(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new"


def test_permissions_follow_umask_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_open(tmp_path / "a.svg") as f:
            f.write(b"<svg/>")
        os.umask(0o027)
        with atomic_open(tmp_path / "b.svg") as f:
            f.write(b"<svg/>")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.svg").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.svg").stat().st_mode) == 0o640


def test_permissions_match_plain_open(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    with atomic_open(tmp_path / "atomic") as f:
        f.write(b"")
    mode = stat.S_IMODE((tmp_path / "atomic").stat().st_mode)
    assert mode == stat.S_IMODE(plain.stat().st_mode)
    assert mode != 0o600 or stat.S_IMODE(plain.stat().st_mode) == 0o600


def test_bad_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="atomic_open: mode"):
        with atomic_open(tmp_path / "x", "a"):
            pass
    assert list(tmp_path.iterdir()) == []
