"""Output paths: checked before any work starts, never overwritten by accident, written atomically.

Every command that writes files uses the same two steps::

    out = check_output(args.out, overwrite=args.overwrite, option="--out")      # before work
    ...                                                                          # the work
    with atomic_path(out) as tmp:                                                # at the end
        write_results(tmp, rows)

``check_output`` raises :class:`ValueError` naming the option and the path, so a long run
never ends in ``IsADirectoryError`` or silently replaces an earlier result. ``atomic_path``
hands out a temporary sibling and renames it over ``path`` only when the block succeeds, so a
crash leaves either the old output or the new one, never half a file or half a bag.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

FILE, DIRECTORY = "file", "directory"


def check_output(path: str | Path, *, kind: str = FILE, overwrite: bool = False,
                 option: str = "--out") -> Path:
    """Refuse a planned output path that cannot or must not be written; nothing is created.

    Args:
        path: the file or folder the command will write.
        kind: ``"file"`` (a results txt, a CSV, a checkpoint) or ``"directory"`` (a sequence,
            a training run, a bag).
        overwrite: allow replacing an existing non-empty output (the ``--overwrite`` flag).
        option: the command-line option the path came from, for the message.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        ValueError: ``path`` has the wrong kind (a folder where a file goes or the reverse),
            exists and is not empty without ``overwrite``, or its parent cannot be created or
            written.
    """
    if kind not in (FILE, DIRECTORY):
        raise ValueError(f"check_output: kind must be {FILE!r} or {DIRECTORY!r}, got {kind!r}")
    path = Path(path)
    if path.exists():
        is_dir = path.is_dir()
        if kind == FILE and is_dir:
            raise ValueError(f"{option} {path}: is a directory; give a file path")
        if kind == DIRECTORY and not is_dir:
            raise ValueError(f"{option} {path}: exists and is not a directory")
        if not overwrite and not _is_empty(path):
            raise ValueError(f"{option} {path}: exists and is not empty; pass --overwrite "
                             f"to replace it, or pick another path")
    _check_parent(path, option)
    return path


def _is_empty(path: Path) -> bool:
    if path.is_dir():
        return not any(path.iterdir())
    return path.stat().st_size == 0


def _check_parent(path: Path, option: str) -> None:
    """Check that the nearest existing ancestor is a writable folder (the rest is created)."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path}: cannot write into {parent} (permission denied)")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write to.

    It is renamed over ``path`` if the block succeeds. Works for files and folders. The
    temporary path does not exist when handed out (parent folders do). A folder already at
    ``path`` is replaced as a whole (the caller checked ``overwrite`` with
    :func:`check_output` first); on an exception the temporary is removed and ``path`` is
    left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    tmp = holder / path.name
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"atomic_path: nothing was written to {tmp}")
        _replace(tmp, path)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _replace(tmp: Path, path: Path) -> None:
    """``os.replace`` that also replaces an existing folder (moved aside, then removed)."""
    if path.is_dir() and not path.is_symlink():
        old = tmp.parent / f"{path.name}.old"
        os.replace(path, old)  # same folder, so the rename is atomic on one file system
        try:
            os.replace(tmp, path)
        except OSError:
            os.replace(old, path)  # put the earlier output back
            raise
        return
    os.replace(tmp, path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_path`."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
