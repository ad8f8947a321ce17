"""Packaging is deterministic and clean: same tree, same bytes; relative paths, root, no setuid."""

import os
import stat
import tarfile

import pytest

from harness import archive


def make_tree(root):
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "python3.13").mkdir(parents=True)
    (root / "bin" / "python3.13").write_bytes(b"\x7fELF fake binary")
    (root / "bin" / "python3").symlink_to("python3.13")
    (root / "lib" / "python3.13" / "os.py").write_text("x = 1\n")
    (root / "lib" / "python3.13" / "suid").write_text("s")
    os.chmod(root / "lib" / "python3.13" / "suid", 0o4755)
    return root


def test_same_tree_gives_same_bytes_whatever_the_mtimes(tmp_path):
    first = make_tree(tmp_path / "a")
    second = make_tree(tmp_path / "b")
    os.utime(second / "lib" / "python3.13" / "os.py", (1, 1))
    sha_a = archive.pack(first, tmp_path / "a.tar.zst", level=(10, None))
    sha_b = archive.pack(second, tmp_path / "b.tar.zst", level=(10, None))
    assert sha_a == sha_b
    assert (tmp_path / "a.tar.zst").read_bytes() == (tmp_path / "b.tar.zst").read_bytes()
    (second / "lib" / "python3.13" / "os.py").write_text("x = 2\n")
    assert archive.pack(second, tmp_path / "c.tar.zst", level=(10, None)) != sha_a  # the hash is of the content


def test_entries_are_sorted_relative_root_owned_without_setuid(tmp_path):
    tree = make_tree(tmp_path / "tree")
    target = tmp_path / "out.tar.zst"
    archive.pack(tree, target, level=(3, None))
    members = archive.members(target)
    names = [m.name for m in members]
    assert names == ["bin", "bin/python3", "bin/python3.13", "lib", "lib/python3.13",
                     "lib/python3.13/os.py", "lib/python3.13/suid"]
    assert all((m.uid, m.gid, m.uname, m.mtime) == (0, 0, "root", archive.FIXED_MTIME) for m in members)
    suid = next(m for m in members if m.name.endswith("suid"))
    assert not suid.mode & stat.S_ISUID
    link = next(m for m in members if m.name == "bin/python3")
    assert link.issym() and link.linkname == "python3.13"
    assert not list(tmp_path.glob("*.partial"))


def test_extract_refuses_paths_leaving_the_tree(tmp_path):
    evil = tmp_path / "evil.tar.zst"
    raw = tmp_path / "evil.tar"
    with tarfile.open(raw, "w") as tar:
        data = tmp_path / "payload"
        data.write_text("x")
        tar.add(data, arcname="../escaped")
    import zstandard
    evil.write_bytes(zstandard.ZstdCompressor().compress(raw.read_bytes()))
    with pytest.raises(tarfile.OutsideDestinationError):
        archive.extract(evil, tmp_path / "dest")
    assert not (tmp_path / "escaped").exists()


def test_the_build_log_check_names_missing_modules_but_not_those_left_out_on_purpose(tmp_path):
    from harness.checks.archive_checks import build_log_check

    log = tmp_path / "build.log"
    header = "The necessary bits to build these optional modules were not found:\n"
    log.write_text("make\n" + header + "_tkinter                                                       \n"
                   "To find the necessary bits, look in setup.py in detect_modules() for the module's name.\n")
    assert build_log_check(log).ok  # 3.9's setup.py lists _tkinter though Setup.local disables it
    log.write_text("make\n" + header + "_lzma                 _tkinter\n\nmore output\n")
    check = build_log_check(log)
    assert not check.ok and check.detail == header.strip() + " _lzma, _tkinter"
