"""A PostgreSQL server of the test's own, to restart under the service: the machine's shared server is never
stopped (other people's tests use it).

``initdb`` and ``pg_ctl`` from PostgreSQL's own binaries (``STOREOPS_PG_BIN``, else the newest
``/usr/lib/postgresql/<version>/bin``, else the ``PATH``) make a cluster in a temporary directory, listening on
127.0.0.1 on a free port with trust authentication and ``fsync=off`` (a test cluster: a crash of the server
process loses nothing, only a crash of the machine would). ``initdb`` refuses to run as root, so as root every
command runs as the ``postgres`` OS user (``runuser -u postgres --``), which owns the directory. The cluster is
stopped and its directory removed at the end, however the test ended."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.faults.world import free_port

PG_BIN_ENV = "STOREOPS_PG_BIN"


def pg_bin() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are, or ``None``."""
    named = os.environ.get(PG_BIN_ENV)
    candidates = [Path(named)] if named else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name),
                         reverse=True)  # fmt: skip
    if found := shutil.which("initdb"):
        candidates.append(Path(found).parent)
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def _version(name: str) -> float:
    try:
        return float(name)
    except ValueError:
        return 0.0


class ClusterUnavailable(Exception):
    """No private server could be made here (no binaries, no ``postgres`` OS user, initdb or pg_ctl failed)."""


class PrivateCluster:
    """:meth:`make` a running server; :meth:`crash` and :meth:`start` it; :meth:`remove` it at the end."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin, self.folder = bin_dir, folder
        self.data, self.log = folder / "data", folder / "server.log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    @classmethod
    def make(cls) -> PrivateCluster:
        bin_dir = pg_bin()
        if bin_dir is None:
            raise ClusterUnavailable(f"no initdb/pg_ctl found (set {PG_BIN_ENV} to PostgreSQL's bin directory)")
        cluster = cls(bin_dir, Path(tempfile.mkdtemp(prefix="storeops-faults-pg-")))
        try:
            if cluster._as_postgres:
                shutil.chown(cluster.folder, "postgres", "postgres")
            cluster._run("initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                         "--no-sync", "--no-instructions")  # fmt: skip
            cluster.start()
        except (OSError, LookupError, RuntimeError, subprocess.SubprocessError) as error:
            cluster.remove()
            raise ClusterUnavailable(f"a private PostgreSQL server could not be made: {error}") from error
        return cluster

    def remove(self) -> None:
        """Stop the server (if it runs) and remove its directory."""
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def crash(self) -> None:
        """Stop the server at once, as a crash does: every connection cut, nothing shut down cleanly."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr or done.stdout}")
