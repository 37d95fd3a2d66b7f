"""Output files that are whole or absent: written beside their place and renamed, checked before a run starts.

A report half written when the run dies (Ctrl-C twice, a full disk, a
crash) is worse than none: CI would read it as the result.  So every output
goes to a temporary file in the same folder and is renamed over the target
only once complete; and a path that cannot be written is refused before
anything is sent, not discovered after an hour of load.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | Path, *, keep_partial: bool = False) -> Iterator[str]:
    """A temporary path to write ``path``'s content to; renamed to ``path`` when the block ends without error.

    ``keep_partial``: renamed even when the block fails, for a file that is
    sound at every point it is written (a capture flushed message by message).
    """
    folder = os.path.dirname(os.path.abspath(path))
    # Hidden, marked partial, and with the target's suffix: writers that go by the suffix (.svg or .html) still can.
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{Path(path).stem}.partial.", suffix=Path(path).suffix)
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        if keep_partial:
            os.replace(temporary, path)
        else:
            Path(temporary).unlink(missing_ok=True)
        raise


def write_atomically(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` whole or not at all."""
    with atomic_path(path) as temporary:
        if isinstance(text, bytes):
            Path(temporary).write_bytes(text)
        else:
            Path(temporary).write_text(text, encoding="utf-8")


def check_writable(path: str | Path) -> str | None:
    """Why ``path`` cannot be written (checked before the run starts), or None."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        return "is a folder"
    if not os.path.isdir(folder):
        return f"no folder {folder}"
    if not os.access(folder, os.W_OK):
        return f"cannot write in {folder}"
    return None
