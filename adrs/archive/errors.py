"""The errors an archive raises, each a one-line message that names the archive and what to do.

Owns: `ArchiveError` (bad input: an archive that cannot be opened or does not hold what was
asked for) and its kinds: a file that is not an adrs archive, a damaged archive, a run another
engine is evolving. The command line prints any of them as one line and exits 1.

Must not: import anything of adrs or SQLAlchemy (every part of the archive raises these).
"""

from __future__ import annotations


class ArchiveError(RuntimeError):
    """An archive that cannot be opened or does not hold what was asked for."""


class NotAnArchive(ArchiveError):
    """A database (or file) that is not an adrs archive: nothing is written to it."""


class ArchiveDamaged(ArchiveError):
    """A damaged archive (a bad page, a truncated file, garbage): `adrs doctor` says what can still be read."""


class RunBusy(ArchiveError):
    """A run that another engine is evolving (only `--join` engines may share a run)."""
