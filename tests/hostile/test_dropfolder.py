"""Hostile entries in an agency's drop folder, through the hub's own poller: links, devices, FIFOs, directories,
odd names, oversize and empty files, and entries swapped between the poller's check and its read. Each is refused
unread (moved as it is to rejected/ with its reason beside it and in the quarantine) or taken as the file it is;
nothing outside the agency's folder is read, moved or written; the next good file goes through."""

from __future__ import annotations

import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hub.registry import load_registry
from hub.store.db import make_engine
from hub.workers.dropfolder import DropFolders
from tests.harness import auth
from tests.hostile.conftest import RSS_BOUND_MB, HostileHub, peak_mb, reset_peak, rss_mb
from tests.test_inbound import bureau_batch

AGENCY = "530581SF"
OTHER = "530502FY"
WAIT = 15.0


@pytest.fixture
def folders(hostile: HostileHub) -> Iterator[Path]:
    """The bureau's drop folder as the hub polls it; every test leaves incoming/ as the hub left it."""
    yield hostile.drop_root / AGENCY


def wait_gone(path: Path, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while os.path.lexists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.lexists(path), f"{path.name!r} was not taken within {timeout} s"


def wait_sorted(folders: Path, name: str, timeout: float = WAIT) -> None:
    """Until ``name`` has left incoming/ and the poller's processing/ for done/ or rejected/."""
    wait_gone(folders / "incoming" / name, timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(p.name.startswith(name[:40]) for sub in ("done", "rejected")
                                                  for p in (folders / sub).iterdir()):
        time.sleep(0.05)


def errors_of(folder: Path, name: str) -> str:
    """The newest error file of ``name`` (written just after the file is moved: waited for)."""
    deadline = time.monotonic() + WAIT
    while True:
        found = [p for p in folder.iterdir() if p.name.startswith(name[:40]) and p.name.endswith(".errors.txt")]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found, f"no error file for {name!r} in {folder}: {sorted(p.name for p in folder.iterdir())}"
    return max(found, key=lambda p: p.stat().st_mtime_ns).read_text(encoding="utf-8-sig")


def quarantined(hostile: HostileHub, errors: str) -> dict[str, object]:
    m = re.search(r"quarantine id: ([0-9a-f-]{36})", errors)
    assert m, errors
    r = hostile.client.get(f"/api/v1/quarantine/{m[1]}", headers=auth("530500ZX"), params={"reason": "supervision"})
    assert r.status_code == 200, r.text
    q = dict(r.json())
    assert q["raw_base64"] == "" and q["problems"], q  # nothing was read, the reason is kept
    return q


def good_file_goes_through(folders: Path) -> None:
    name = f"good-{uuid.uuid4().hex[:8]}.xml"
    tmp = folders / "incoming" / (name + ".part")
    tmp.write_bytes(bureau_batch(2))
    os.rename(tmp, folders / "incoming" / name)  # the folder's convention: written under a temporary name
    wait_sorted(folders, name)
    assert (folders / "done" / name).exists(), sorted(p.name for p in (folders / "rejected").iterdir())
    assert not (folders / "done" / (name + ".errors.txt")).exists()


def refused_unread(hostile: HostileHub, folders: Path, name: str, code: str) -> str:
    """The entry ``name`` is taken from incoming/, moved as it is to rejected/, its reason in an error file and in
    the quarantine under ``code``; then a good file goes through. Returns the error file's text."""
    before = rss_mb()
    reset_peak()
    wait_sorted(folders, name)
    rejected = [p for p in (folders / "rejected").iterdir() if p.name.startswith(name[:40])
                and not p.name.endswith(".errors.txt")]
    assert rejected, f"{name!r} is not in rejected/"
    errors = errors_of(folders / "rejected", name)
    assert f"refused: {code}" in errors, errors
    q = quarantined(hostile, errors)
    assert q["code"] == code and q["channel"] == "drop-folder", q
    good_file_goes_through(folders)
    print(f"RSS drop folder {code} {name[:30]!r}: {before:.0f} -> {rss_mb():.0f} MB, peak {peak_mb():.0f} MB")
    assert peak_mb() - before < RSS_BOUND_MB
    return errors


def fingerprint(path: Path) -> tuple[int, int, int, bytes]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns, path.read_bytes()


def test_a_symlink_to_a_system_file_is_refused_and_its_target_left_alone(hostile: HostileHub, folders: Path,
                                                                          tmp_path: Path) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    before = fingerprint(secret)
    (folders / "incoming" / "passwd.xml").symlink_to(secret)
    (folders / "incoming" / "etc-passwd.xml").symlink_to("/etc/passwd")
    refused_unread(hostile, folders, "passwd.xml", "not_a_file_symlink")
    refused_unread(hostile, folders, "etc-passwd.xml", "not_a_file_symlink")
    # the link itself was moved, its target neither read into the hub nor touched
    assert os.path.islink(folders / "rejected" / "passwd.xml")
    assert fingerprint(secret) == before and Path("/etc/passwd").exists()


def test_a_symlink_into_another_agencys_folder_is_refused(hostile: HostileHub, folders: Path) -> None:
    theirs = hostile.drop_root / OTHER / "done" / f"theirs-{uuid.uuid4().hex[:6]}.xml"
    theirs.write_bytes(b"<private/>")
    before = fingerprint(theirs)
    (folders / "incoming" / "theirs.xml").symlink_to(theirs)
    (folders / "incoming" / "their-folder").symlink_to(hostile.drop_root / OTHER / "done", target_is_directory=True)
    refused_unread(hostile, folders, "theirs.xml", "not_a_file_symlink")
    refused_unread(hostile, folders, "their-folder", "not_a_file_symlink")
    assert fingerprint(theirs) == before
    assert (hostile.drop_root / OTHER / "done").is_dir() and not (hostile.drop_root / OTHER / "done").is_symlink()


def test_a_dangling_symlink_is_refused(hostile: HostileHub, folders: Path) -> None:
    (folders / "incoming" / "nowhere.xml").symlink_to("/nonexistent/nowhere.xml")
    refused_unread(hostile, folders, "nowhere.xml", "not_a_file_symlink")


def test_a_hard_link_to_a_file_outside_is_refused_unread(hostile: HostileHub, folders: Path, tmp_path: Path) -> None:
    outside = hostile.drop_root.parent / f"outside-{uuid.uuid4().hex[:6]}.xml"
    outside.write_bytes(bureau_batch(1))
    before = fingerprint(outside)
    os.link(outside, folders / "incoming" / "linked.xml")
    refused_unread(hostile, folders, "linked.xml", "hard_link")
    assert fingerprint(outside) == before


def test_a_fifo_does_not_block_the_poller(hostile: HostileHub, folders: Path) -> None:
    os.mkfifo(folders / "incoming" / "pipe.xml")
    refused_unread(hostile, folders, "pipe.xml", "not_a_file_fifo")
    assert stat.S_ISFIFO(os.lstat(folders / "rejected" / "pipe.xml").st_mode)


def test_a_device_file_is_refused_unopened(hostile: HostileHub, folders: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    os.mknod(folders / "incoming" / "zero.xml", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    refused_unread(hostile, folders, "zero.xml", "not_a_file_device")


def test_a_directory_is_moved_aside_with_its_content_unread(hostile: HostileHub, folders: Path) -> None:
    d = folders / "incoming" / "sub"
    d.mkdir()
    (d / "inner.xml").write_bytes(bureau_batch(1))
    refused_unread(hostile, folders, "sub", "not_a_file_directory")
    assert (folders / "rejected" / "sub" / "inner.xml").exists()  # kept as it was, nothing lost


def test_an_oversize_file_is_refused_without_being_read(hostile: HostileHub, folders: Path) -> None:
    big = folders / "incoming" / "huge.xml"
    with big.open("wb") as f:
        f.truncate(20 << 30)  # 20 GiB, sparse: reading it whole would take minutes and all the memory
    errors = refused_unread(hostile, folders, "huge.xml", "too_large")
    assert "max_native_bytes" in errors


def test_an_empty_file_is_rejected_with_its_reason(hostile: HostileHub, folders: Path) -> None:
    (folders / "incoming" / "empty.xml").write_bytes(b"")
    wait_sorted(folders, "empty.xml")
    assert (folders / "rejected" / "empty.xml").exists()
    assert "could not be read" in errors_of(folders / "rejected", "empty.xml")
    good_file_goes_through(folders)


def test_a_file_still_being_written_is_taken_only_once_complete(hostile: HostileHub, folders: Path) -> None:
    batch = bureau_batch(3)
    target = folders / "incoming" / "slow.xml"
    settle = hostile.hub.settings.inbound_settle_seconds
    with target.open("wb") as f:
        for i in range(0, len(batch), 400):
            f.write(batch[i:i + 400])
            f.flush()
            time.sleep(settle / 4)
            assert target.exists(), "a file still being written was taken"
    wait_sorted(folders, "slow.xml")
    assert (folders / "done" / "slow.xml").exists()
    # a name the convention marks as being written is never taken
    (folders / "incoming" / "next.xml.part").write_bytes(batch)
    time.sleep(settle * 4)
    assert (folders / "incoming" / "next.xml.part").exists()
    (folders / "incoming" / "next.xml.part").unlink()


NAMES = {
    "dots-inside": "a..b..c.xml",
    "backslash-traversal": "x\\..\\..\\..\\etc\\passwd.xml",
    "windows-absolute": "C:\\Windows\\system32\\x.xml",
    "control-chars": "\x1b[31mred\x07\x08\x7f.xml",
    "newline-and-tab": "a\tb\nX-Injected: 1.xml",
    "rtl-override": "report\u202elmx.exe.xml",
    "division-slash": "a\u2215..\u2215..\u2215etc\u2215passwd.xml",
    "fraction-slash": "a\u2044..\u2044..\u2044etc\u2044passwd.xml",
    "fullwidth-solidus": "a\uff0f..\uff0f..\uff0fetc\uff0fpasswd.xml",
    "big-solidus": "\u29f8etc\u29f8passwd.xml",
    "markup": "<img src=x onerror=alert(1)>.xml",
    "long-ascii": "x" * 240 + ".xml",
    "long-chinese": "报" * 81 + ".xml",  # 243 + 4 bytes
    "percent-encoded": "%2e%2e%2fetc%2fpasswd.xml",
}


@pytest.mark.parametrize("name", [pytest.param(v, id=k) for k, v in NAMES.items()])
def test_an_odd_name_is_taken_as_a_plain_name_inside_the_folder(hostile: HostileHub, folders: Path,
                                                                name: str) -> None:
    outside_before = sorted(p.name for p in hostile.drop_root.parent.iterdir())
    (folders / "incoming" / name).write_bytes(bureau_batch(1))
    wait_sorted(folders, name)
    done = [p for p in (folders / "done").iterdir() if p.name[:20] == name[:20]]
    assert done, f"{name!r} is not in done/"
    assert len(os.fsencode(done[0].name)) <= 255
    assert sorted(p.name for p in hostile.drop_root.parent.iterdir()) == outside_before
    assert not Path("/etc/passwd.xml").exists()


@pytest.mark.parametrize("name", ["...", "..x.xml", ".hidden.xml", "~$lock.xlsx", "a.xml.tmp"])
def test_a_name_the_convention_calls_temporary_is_left_where_it_is(hostile: HostileHub, folders: Path,
                                                                   name: str) -> None:
    path = folders / "incoming" / name
    path.write_bytes(bureau_batch(1))
    time.sleep(hostile.hub.settings.inbound_settle_seconds * 4)
    assert path.exists(), "a temporary name was taken"
    path.unlink()
    good_file_goes_through(folders)


# --- an entry swapped between the poller's check and its read -----------------------------------------------


@pytest.fixture
def own_poller(hostile: HostileHub, tmp_path: Path) -> Iterator[DropFolders]:
    """A poller of its own over a folder tree nobody else polls, storing into the corpus hub's database."""
    settings = replace(hostile.hub.settings, inbound_root=tmp_path / "inbound")
    engine = make_engine(settings.database_url)
    folders = DropFolders(settings, engine, load_registry(settings.registry_path))
    yield folders
    folders.close()
    engine.dispose()


def _settle(p: DropFolders) -> None:
    time.sleep(p.settle + 0.05)


@pytest.mark.parametrize("swap", ["symlink", "hardlink", "fifo", "directory"])
def test_an_entry_swapped_after_the_check_is_refused(hostile: HostileHub, own_poller: DropFolders, tmp_path: Path,
                                                     swap: str) -> None:
    root = own_poller.folder(AGENCY, "incoming").parent
    path = root / "incoming" / "batch.xml"
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0\n")
    path.write_bytes(bureau_batch(1))
    own_poller.poll_once()  # seen once as a regular file
    _settle(own_poller)
    # the agency swaps the checked file for something else at the last moment
    path.unlink()
    if swap == "symlink":
        path.symlink_to(secret)
    elif swap == "hardlink":
        os.link(secret, path)
    elif swap == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    agency = own_poller.directory.agencies[AGENCY]
    assert own_poller.take(agency, path) is True  # as if the poller's check had just passed
    errors = errors_of(root / "rejected", "batch.xml")
    code = {"symlink": "not_a_file_symlink", "hardlink": "hard_link", "fifo": "not_a_file_fifo",
            "directory": "not_a_file_directory"}[swap]
    assert f"refused: {code}" in errors, errors
    quarantined(hostile, errors)
    assert secret.read_text() == "root:x:0:0\n"
    # and a regular file polled after a swap is judged by what it is now, not by what was seen before
    path2 = root / "incoming" / "later.xml"
    path2.write_bytes(bureau_batch(1))
    own_poller.poll_once()
    path2.unlink()
    path2.symlink_to(secret)
    deadline = time.monotonic() + WAIT
    while os.path.lexists(path2) and time.monotonic() < deadline:
        own_poller.poll_once()
        time.sleep(0.05)
    assert os.path.islink(root / "rejected" / "later.xml")


def test_an_error_file_name_planted_as_a_link_is_not_written_through(hostile: HostileHub, own_poller: DropFolders,
                                                                    tmp_path: Path) -> None:
    root = own_poller.folder(AGENCY, "incoming").parent
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (root / "rejected" / "bad.xml.errors.txt").symlink_to(victim)
    (root / "incoming" / "bad.xml").write_bytes(b"not xml at all")
    deadline = time.monotonic() + WAIT
    while (root / "incoming" / "bad.xml").exists() and time.monotonic() < deadline:
        own_poller.poll_once()
        time.sleep(0.05)
    assert victim.read_text() == "keep me\n"
    assert "not_xml" in errors_of(root / "rejected", "bad.xml")
    # written under a hidden name and linked into place whole: nothing of that is left behind
    assert not [p.name for p in (root / "rejected").iterdir() if p.name.endswith(".errors.tmp")]


def test_an_incoming_folder_that_is_a_symlink_is_not_read(hostile: HostileHub, own_poller: DropFolders) -> None:
    root = own_poller.folder(AGENCY, "incoming").parent
    other = own_poller.folder(OTHER, "incoming")
    (other / "theirs.xml").write_bytes(b"<theirs/>")
    os.rename(root / "incoming", root / "incoming.real")
    (root / "incoming").symlink_to(other, target_is_directory=True)
    for _ in range(3):
        own_poller.poll_once()
        _settle(own_poller)
    own_poller.poll_once()
    # the other agency's file was taken as theirs (rejected as their own bad file), never as this agency's
    assert not any((root / "done").iterdir()) and not any((root / "rejected").iterdir())


def test_a_refusal_that_cannot_be_recorded_leaves_the_entry_to_be_taken_again(hostile: HostileHub,
                                                                              tmp_path: Path) -> None:
    from tests.harness import free_port

    settings = replace(hostile.hub.settings, inbound_root=tmp_path / "inbound")
    # a poller whose database is away (nothing listens on that port)
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=1")
    poller = DropFolders(settings, engine, load_registry(settings.registry_path))
    try:
        link = poller.folder(AGENCY, "incoming") / "link.xml"
        link.symlink_to("/etc/passwd")
        poller.poll_once()
        _settle(poller)
        assert poller.poll_once() == 0
        # not lost: back in incoming/, to be refused with its reason once the database is back
        assert os.path.islink(link)
        assert not any(poller.folder(AGENCY, "rejected").iterdir())
        assert not any((poller.folder(AGENCY, "processing") / poller.claim).iterdir())
    finally:
        poller.close()
        engine.dispose()
