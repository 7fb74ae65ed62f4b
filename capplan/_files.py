"""Writing files so that a failure leaves nothing that looks finished.

Every saver and command that writes files goes through :func:`staged`:
the files are written under hidden temporary names beside their final
ones, and renamed into place only when all of them were written. A failure
part-way (a bad input found late, a full disk, an interrupt) removes the
temporary files and leaves whatever was there before untouched.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Temporary paths for ``paths``, renamed onto them when the block succeeds.

    A temporary name keeps its file's suffixes (``.csv.gz`` stays
    compressed when pandas infers it) and starts with a dot, in the same
    folder, so the rename is atomic on one file system.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with staged(folder / "a.txt", folder / "b.txt") as (a, b):
    ...     _ = a.write_text("one"), b.write_text("two")
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt', 'b.txt']
    """
    finals = [Path(p) for p in paths]
    token = secrets.token_hex(4)
    temporaries = [p.with_name(f".{p.name}.partial-{token}{''.join(p.suffixes)}") for p in finals]
    try:
        yield temporaries
        for temporary, final in zip(temporaries, finals, strict=True):
            if not temporary.exists():
                raise RuntimeError(f"{final} was not written")
            if final.is_dir():  # checked for all before the first rename
                raise IsADirectoryError(f"{final} is a folder; give a file's path")
        for temporary, final in zip(temporaries, finals, strict=True):
            os.replace(temporary, final)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
