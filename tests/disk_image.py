"""A small ext4 file system for one test: a sparse image file under the test's own temporary
directory, formatted and loop-mounted there, then unmounted and its loop device detached even
when the test fails. ext4 rather than tmpfs: tmpfs hides how a real disk file system fills up
(a failed ``posix_fallocate`` on ext4 keeps the blocks it took).

Mounting needs root (CI runs as root). Where it is refused the test is skipped with the
reason, except under ``CI=true``, where it fails: CI must never skip the disk tests quietly."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BLOCK = 4096


def reserve(fd: int, size: int) -> None:
    """The kernel's own reservation, for filling the disk: whatever evio-fetch is made to
    believe the platform offers (tests/without_os may have removed ``os.posix_fallocate``),
    the test's filler takes its blocks."""
    import posix  # noqa: PLC0415  (POSIX only, as the image is)

    posix.posix_fallocate(fd, 0, size)


@contextmanager
def ext4_image(directory: Path, size: int) -> Iterator[Path]:
    """Mount a fresh ext4 file system of ``size`` bytes at ``directory/mnt``; yields it."""
    image = directory / "ext4.img"
    mount = directory / "mnt"
    mount.mkdir()
    with image.open("wb") as sparse:
        sparse.truncate(size)
    # 4 KiB blocks, as on real disks (and files up to 16 TiB); no blocks kept for root, so the
    # free space statvfs shows is all there is; inode tables written now, not in the background.
    lazy = "lazy_itable_init=0,lazy_journal_init=0"
    _prepare(["mkfs.ext4", "-F", "-q", "-b", str(BLOCK), "-m", "0", "-E", lazy, str(image)])
    _prepare(["mount", "-o", "loop", str(image), str(mount)])
    try:
        yield mount
    finally:
        _unmount(mount, image)


def _prepare(command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        _cannot(f"{command[0]}: {error}")
    if done.returncode != 0:
        _cannot(f"{' '.join(command[:2])}: {done.stderr.strip() or done.returncode}")


def _cannot(reason: str) -> None:
    message = f"cannot make a loop-mounted ext4 image here: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _unmount(mount: Path, image: Path) -> None:
    done = subprocess.run(["umount", str(mount)], capture_output=True, check=False)
    if done.returncode != 0 and os.path.ismount(mount):
        # Still busy (a process the test started is still exiting): take it out of the tree
        # now; the kernel lets go of it when its last file closes.
        subprocess.run(["umount", "--lazy", str(mount)], capture_output=True, check=False)
    _detach(image)
    image.unlink()  # a loop device still using it keeps it open until then


def _detach(image: Path) -> None:
    """Detach any loop device still backed by ``image`` (mount's autoclear usually did)."""
    listed = subprocess.run(
        ["losetup", "--list", "--noheadings", "--output", "NAME", "--associated", str(image)],
        capture_output=True,
        text=True,
        check=False,
    )
    for device in listed.stdout.split():
        subprocess.run(["losetup", "--detach", device], capture_output=True, check=False)
