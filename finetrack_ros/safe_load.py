"""Reading torch files without running code from them.

torch's unrestricted unpickler builds arbitrary objects, so a crafted ``.pth`` runs its
payload before any format check sees it. Every checkpoint this package reads goes
through :func:`load_torch_file`, which uses torch's restricted unpickler (tensors, dicts,
lists, tuples, numbers, strings) and turns every failure into one ``ValueError`` line naming
the file. The formats this package writes hold only such data (configs as plain dicts).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

# torch's restricted unpickler names a refused global (a class or function to call) so.
_BLOCKED_MARKER = "GLOBAL"


def load_torch_file(path: str | Path, what: str = "checkpoint",
                    map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with one-line errors.

    Args:
        path: the file.
        what: what the file should be, for messages ("Re-ID checkpoint").
        map_location: as for ``torch.load``.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is not a torch file, is truncated, or holds pickled objects
            other than plain data (refused before anything in it runs).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with warnings.catch_warnings():  # a pickle protocol note is no use to the user
            warnings.filterwarnings("ignore", message=".*pickle protocol")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ValueError(_describe(path, what, err)) from err


def _describe(path: Path, what: str, err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    # the restricted unpickler's own reason, not its multi-line advice around it
    detail = next((line for line in lines if _BLOCKED_MARKER in line or "Unsupported" in line),
                  lines[0] if lines else "")
    if _BLOCKED_MARKER in detail:
        return (f"{path}: refused as {what}: it holds pickled Python objects, not only "
                f"tensors and plain data ({detail.rstrip('.')}); nothing in it was run")
    reason = f"{type(err).__name__}: {detail.split('. ')[0]}" if detail else type(err).__name__
    if isinstance(err, EOFError):
        reason = "the file is empty or truncated"
    elif isinstance(err, KeyError) or "Unsupported operand" in detail:
        reason = f"not written by torch.save: {reason}"  # text or another pickle format
    return f"{path}: not a readable torch {what} ({reason[:200]})"
