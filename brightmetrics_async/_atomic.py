"""Files that are complete or absent.

An export is written to a temporary file beside its target (same directory, so the final
``os.replace`` is an atomic rename on one file system) and renamed only once the caller commits.
Any exception, cancellation included, removes the temporary file: a reader never sees half a file.

A resumable pull (a bulk pull with a journal) may instead *keep* the temporary file when it
fails (``keep_on_error``) and reopen it later with ``part=`` and ``offset=``: the bytes past
the last checkpoint are cut off and writing continues from there. The target path itself still
appears only at ``commit``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

__all__ = ["AtomicFile", "part_files"]

_SUFFIX = ".part"


def _umask() -> int:
    # mkstemp creates files 0600; a finished export should get the mode any new file would.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()


def part_files(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary files an :class:`AtomicFile` for ``path`` may have left (after a crash)."""
    target = Path(path)
    if not target.parent.is_dir():
        return []
    return sorted(target.parent.glob(f".{glob_escape(target.name)}.*{_SUFFIX}"))


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters made literal."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


class AtomicFile:
    """``with AtomicFile(path) as f: f.write(...); f.commit()``; without commit, nothing appears.

    ``part`` and ``offset`` reopen a temporary file kept by an earlier, failed attempt and
    continue after its first ``offset`` bytes (a missing or shorter ``part`` starts afresh).
    ``keep_on_error`` keeps the temporary file when the block fails, for such a resume.

    Raises :class:`OSError` subclasses for file-system problems (the caller's to handle).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        part: str | os.PathLike[str] | None = None,
        offset: int = 0,
        keep_on_error: bool = False,
    ) -> None:
        self.path = Path(path)
        self._resume = (Path(part), offset) if part is not None else None
        self._tmp: Path | None = None
        self._fh: BinaryIO | None = None
        self.bytes_written = 0
        self.committed = False
        self.keep_on_error = keep_on_error
        self.resumed = False

    @property
    def part(self) -> Path | None:
        """The temporary file (None outside ``with``)."""
        return self._tmp

    def __enter__(self) -> AtomicFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._resume is not None:
            part, offset = self._resume
            # Only a part file of this target, beside it, is reopened: a journal is data.
            usable = (
                part.parent == self.path.parent
                and part.name.startswith(f".{self.path.name}.")
                and part.name.endswith(_SUFFIX)
                and part.is_file()
                and 0 <= offset <= part.stat().st_size
            )
            if usable:
                fh = part.open("r+b")
                fh.truncate(offset)
                fh.seek(offset)
                self._tmp, self._fh = part, fh
                self.bytes_written = offset
                self.resumed = True
                return self
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=_SUFFIX, dir=self.path.parent
        )
        self._tmp = Path(name)
        self._fh = os.fdopen(fd, "wb")
        os.chmod(self._tmp, _MODE)
        return self

    def write(self, data: bytes) -> None:
        """Append ``data`` to the temporary file."""
        assert self._fh is not None, "AtomicFile used outside 'with'"
        self._fh.write(data)
        self.bytes_written += len(data)

    def flush(self) -> int:
        """Flush and fsync what was written so far; return the durable size in bytes."""
        assert self._fh is not None, "AtomicFile used outside 'with'"
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return self.bytes_written

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
        if self.keep_on_error and exc_type is not None:
            return
        if not self.committed and self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
