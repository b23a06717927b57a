"""A private PostgreSQL server for tests: initdb and pg_ctl on a fresh folder, one loopback port.

Owns: finding the server binaries (PATH, /usr/local/bin, Debian's /usr/lib/postgresql/<v>/bin),
starting a throwaway cluster (as the `postgres` user when running as root, since initdb refuses
root), handing out fresh databases, and stopping it. Anything missing (the binaries, the driver,
a start that fails) is a `PostgresUnavailable` whose message says why: tests skip with it.

Must not: touch any other PostgreSQL cluster on the machine.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No private server can run here; the message is the reason tests skip."""


def _binary(name: str) -> str:
    candidates = [shutil.which(name), f"/usr/local/bin/{name}"]
    candidates += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise PostgresUnavailable(f"{name} not found (install Debian's postgresql package: apt-get install -y postgresql)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    folder: Path
    port: int
    run_as: list[str]  # prefix running a command as the cluster's owner

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; its SQLAlchemy URL."""
        import sqlalchemy as sa

        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        pg_ctl = _binary("pg_ctl")
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                [*self.run_as, pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(fsync: bool = False) -> PostgresServer:
    """Start a private server (about 1-4 s). fsync off by default: tests crash engines, not the machine."""
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError as exc:
        raise PostgresUnavailable("psycopg is not installed (pip install 'adrs[postgres]')") from exc
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    run_as: list[str] = []
    # A folder the server's user can reach: pytest's tmp_path lives under a root-only folder.
    folder = Path(tempfile.mkdtemp(prefix="adrs-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            import pwd

            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root and there is no postgres user to own the cluster") from exc
        if runuser is None:
            raise PostgresUnavailable("running as root and runuser is missing: cannot start initdb as postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = [runuser, "-u", "postgres", "--"]
    port = _free_port()
    data = folder / "data"
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections=200"
    if not fsync:
        options += " -c fsync=off -c full_page_writes=off"
    try:
        subprocess.run(
            [*run_as, initdb, "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        subprocess.run(
            [
                *run_as,
                pg_ctl,
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=90,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        log = folder / "server.log"
        if log.exists():
            detail += log.read_text()[-1500:]
        shutil.rmtree(folder, ignore_errors=True)
        raise PostgresUnavailable(f"the private PostgreSQL server did not start: {exc}\n{detail}") from exc
    return PostgresServer(folder, port, run_as)
