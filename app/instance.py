"""Which instance this process runs as (``INSTANCE_ID``, or a default that stays the same across restarts), and what
this host knows of another process said to run as it. The leases themselves are ``workflows/leases.py``.

The default id is this host's name and a digest of what makes an instance itself on that host: its database (a
SQLite file by its absolute path, a server without the password), its topology file's absolute path and its HTTP
address. A restart keeps it; two instances on one host differ in their HTTP port at least. Instances on different
hosts differ by the host's name — set ``INSTANCE_ID`` where a host's name changes with each start (a container
recreated rather than restarted): with a new id, the leases of the old one wait to run out instead of being taken
back at once."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from app.settings import Settings
from workflows.leases import Incarnation
from workflows.ports import InstanceRecord

_RUNNING_HERE: set[str] = set()  # the incarnations this very process runs (tests run several in one process)


def incarnation(settings: Settings) -> Incarnation:
    """This process: its instance id and a fresh incarnation."""
    host = socket.gethostname()
    return Incarnation(settings.instance_id or default_instance_id(settings), uuid.uuid4().hex[:12], host, os.getpid())


def default_instance_id(settings: Settings) -> str:
    url = make_url(settings.database.url)
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).resolve()))
    database = url.render_as_string(hide_password=True)
    place = f"{database}|{settings.config_path.resolve()}|{settings.http.host}:{settings.http.port}"
    digest = hashlib.sha256(place.encode()).hexdigest()[:10]
    host = re.sub(r"[^A-Za-z0-9._-]+", "-", socket.gethostname())[:48].strip("-.") or "host"
    return f"{host}-{digest}"


def running(me: Incarnation, *, yes: bool) -> None:
    """Note that this process runs ``me`` (from its start until its stop)."""
    (_RUNNING_HERE.add if yes else _RUNNING_HERE.discard)(me.incarnation)


def alive(record: InstanceRecord) -> bool | None:
    """What this host knows of the process of another incarnation: ``False`` when it cannot be running (this host,
    and its process is gone or is this one), ``True`` when this process runs it, ``None`` when only its heartbeat
    can tell (another host, or a process with its pid runs: perhaps it, perhaps one that reused the pid)."""
    if record.host != socket.gethostname():
        return None
    if record.pid == os.getpid():
        return record.incarnation in _RUNNING_HERE
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # not ours to signal: it exists
        return None
    return None
