"""Files that are complete or absent.

An export is written to a temporary file beside its target (same directory, so the final
``os.replace`` is an atomic rename on one file system) and renamed only once the caller commits.
Any exception, cancellation included, removes the temporary file: a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

__all__ = ["AtomicFile"]


class AtomicFile:
    """``with AtomicFile(path) as f: f.write(...); f.commit()``; without commit, nothing appears.

    Raises :class:`OSError` subclasses for file-system problems (the caller's to handle).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._tmp: Path | None = None
        self._fh: BinaryIO | None = None
        self.bytes_written = 0
        self.committed = False

    def __enter__(self) -> AtomicFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
        )
        self._tmp = Path(name)
        self._fh = os.fdopen(fd, "wb")
        return self

    def write(self, data: bytes) -> None:
        """Append ``data`` to the temporary file."""
        assert self._fh is not None, "AtomicFile used outside 'with'"
        self._fh.write(data)
        self.bytes_written += len(data)

    def restart(self) -> None:
        """Forget what was written (a retried download starts over)."""
        assert self._fh is not None, "AtomicFile used outside 'with'"
        self._fh.seek(0)
        self._fh.truncate()
        self.bytes_written = 0

    def commit(self) -> Path:
        """Flush, fsync and rename the temporary file onto the target."""
        assert self._fh is not None, "AtomicFile used outside 'with'"
        assert self._tmp is not None, "AtomicFile used outside 'with'"
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)
        self.committed = True
        return self.path

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        if not self.committed and self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
