"""Where an archive lives, read from its location: the one place that parses archive URLs.

Owns: turning a path or SQLAlchemy URL into the URL the archive is opened with, and reading back
what the rest of adrs needs from it: a SQLite archive's database file and the files beside it
(hidden from candidates), the folder for a run's own files and the lock file of its engine, and how
to show the location in a message or a report (a SQLite archive as its path, a server URL without its password).

Must not: open a database. It imports nothing of adrs and SQLAlchemy only to read a server URL,
so the evaluation side (evaluate/runner.py, Ray nodes) may use it without loading the store.
"""

from __future__ import annotations

from pathlib import Path

_SQLITE = "sqlite:///"
_SQLITE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")  # database, write-ahead log, shared memory, journal


def archive_url(location: str | Path) -> str:
    """A URL as given; anything else is a path to a SQLite archive."""
    given = str(location)
    return given if "://" in given else f"{_SQLITE}{Path(given).resolve()}"


def sqlite_path(url: str | None) -> Path | None:
    """The database file of a SQLite archive URL; None for a server (or no) URL."""
    if not url or not url.startswith(_SQLITE):
        return None
    return Path(url.removeprefix(_SQLITE))


def archive_files(url: str | None) -> list[str]:
    """The files of a SQLite archive (database, write-ahead log, shared memory, journal); none for a server."""
    path = sqlite_path(url)
    if path is None:
        return []
    return [str(path) + suffix for suffix in _SQLITE_FILE_SUFFIXES]


def run_lock_file(url: str, run_id: int) -> Path | None:
    """The lock file of a SQLite archive's run (archive/locks.py), beside its folder; None for a server."""
    folder = run_directory(url, run_id) if sqlite_path(url) is not None else None
    return None if folder is None else folder.parent / f"{folder.name}.lock"


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy understands: show it as given
        return url


def display_location(url: str) -> str:
    """How messages and reports name an archive: a SQLite archive's path, else the URL without password."""
    path = sqlite_path(url)
    return str(path) if path is not None else display_url(url)


def run_directory(url: str, run_id: int) -> Path:
    """The folder for a run's own files: beside a SQLite archive, else under ./runs/.

    `archives/prism.sqlite` run 1 -> `archives/prism.sqlite-files/run1`; a server URL
    `postgresql+psycopg://u@host:5432/db` run 1 -> `runs/host-5432-db-run1`.
    """
    database = sqlite_path(url)
    if database is not None:
        return database.parent / f"{database.name}-files" / f"run{run_id}"
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    parts = [str(p) for p in (parsed.host, parsed.port, parsed.database) if p]
    name = "-".join(parts).replace("/", "_") or parsed.get_backend_name()
    return Path("runs") / f"{name}-run{run_id}"
