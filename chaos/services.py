"""Private service instances for one chaos run, started from the machine's installed binaries and torn down after:
a PostgreSQL cluster (initdb/pg_ctl) and a second RabbitMQ node, each on free ports in a temporary directory, and a
size-limited tmpfs for a drop folder. The machine's own PostgreSQL (5432) and RabbitMQ (5672) are never touched."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class ServiceError(RuntimeError):
    """A private service could not be started, restarted or stopped; the message says which and why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _is_root() -> bool:
    return os.geteuid() == 0


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _as_user(user: str, argv: list[str], *, home: Path | None = None) -> list[str]:
    """``argv`` run as ``user`` when this is root (PostgreSQL refuses root; RabbitMQ's files belong to it); runuser
    resets HOME, so ``home`` is set again inside."""
    if _is_root() and _user_exists(user):
        return ["runuser", "-u", user, "--", *(["env", f"HOME={home}"] if home else []), *argv]
    return argv


def _chown(path: Path, user: str) -> None:
    if _is_root() and _user_exists(user):
        u = pwd.getpwnam(user)
        os.chown(path, u.pw_uid, u.pw_gid)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


# ---- PostgreSQL -------------------------------------------------------------------------------------------------


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin directory (``XIANJIE_CHAOS_PG_BIN`` overrides)."""
    if os.environ.get("XIANJIE_CHAOS_PG_BIN"):
        return Path(os.environ["XIANJIE_CHAOS_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise ServiceError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin (set XIANJIE_CHAOS_PG_BIN)")
    return Path(found[-1]).parent


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port; ``restart`` is an immediate (crash) stop, then a start."""

    def __init__(self, root: Path) -> None:
        self.bin = postgres_bin()
        self.dir = root / "postgres"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/xianjie"

    def _run(self, *argv: str, timeout: float = 120.0) -> str:
        cmd = _as_user("postgres", [str(self.bin / argv[0]), *argv[1:]])
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if p.returncode != 0:
            raise ServiceError(f"{' '.join(argv[:2])} failed ({p.returncode}): {p.stderr.strip()[-800:]}\n"
                               f"server log:\n{_tail(self.log)}")
        return p.stdout

    def start(self) -> None:
        self.dir.mkdir(parents=True)
        _chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        self._start()
        import sqlalchemy as sa

        admin = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres",
                                 isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as c:
                c.execute(sa.text("CREATE DATABASE xianjie"))
        finally:
            admin.dispose()

    def _start(self) -> None:
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=400 "
                "-c shared_buffers=128MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60", "start")

    def crash_stop(self) -> None:
        """``pg_ctl stop -m immediate``: every backend ends at once, no checkpoint (recovery on the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def start_again(self) -> None:
        self._start()
        self.restarts += 1

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(ServiceError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)


# ---- RabbitMQ ---------------------------------------------------------------------------------------------------

RABBIT_SCRIPTS = Path(os.environ.get("XIANJIE_CHAOS_RABBIT_SCRIPTS", "/usr/lib/rabbitmq/bin"))


class PrivateRabbit:
    """A second RabbitMQ node (its own name, ports, database, logs, config and cookie; no plugins), run in the
    foreground as a child process group so that a restart can be a real SIGKILL of the node."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "rabbitmq"
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"xianjie-chaos-{os.getpid()}@localhost"
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def env(self) -> dict[str, str]:
        d = self.dir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({
            "HOME": str(d), "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"), "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"), "RABBITMQ_PID_FILE": str(d / "pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        })
        return env

    def start(self) -> None:
        if not (RABBIT_SCRIPTS / "rabbitmq-server").exists():
            raise ServiceError(f"no RabbitMQ scripts in {RABBIT_SCRIPTS} (set XIANJIE_CHAOS_RABBIT_SCRIPTS)")
        d = self.dir
        (d / "log").mkdir(parents=True)
        (d / "rabbitmq-env.conf").write_text("# this node's settings come from its environment\n")
        (d / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n"
                                         "disk_free_limit.absolute = 10MB\n")
        (d / "enabled_plugins").write_text("[].\n")
        for p in [d, *d.rglob("*")]:
            _chown(p, "rabbitmq")
        self._spawn()

    def _spawn(self) -> None:
        log = open(self.dir / "log" / "console.log", "ab")  # noqa: SIM115 - the node owns it
        argv = _as_user("rabbitmq", [str(RABBIT_SCRIPTS / "rabbitmq-server")], home=self.dir)
        self.proc = subprocess.Popen(argv, env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                                     start_new_session=True)
        log.close()
        self.wait_ready()

    def ctl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        cmd = _as_user("rabbitmq", [str(RABBIT_SCRIPTS / "rabbitmqctl"), "-n", self.node, *args], home=self.dir)
        return subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until the node completes an AMQP handshake (what the hub needs; cheaper than rabbitmqctl under load)."""
        from kombu.connection import Connection

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                break
            if port_open(self.port):
                try:
                    with Connection(self.url, connect_timeout=5) as c:  # type: ignore[no-untyped-call]
                        c.connect()
                        c.default_channel  # noqa: B018 - opening a channel is the check
                    return
                except Exception:  # booting: refused, reset or not yet accepting logins
                    pass
            time.sleep(0.3)
        raise ServiceError(f"RabbitMQ node {self.node} did not come up on port {self.port}:\n"
                           f"{_tail(self.dir / 'log' / 'console.log')}")

    def kill(self) -> None:
        """SIGKILL the whole node (its process group): connections drop, unconfirmed work is gone."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        self._kill_leftover_beam()

    def _kill_leftover_beam(self) -> None:
        """The node's beam.smp, should it have left the process group: found by its pid file, checked by name."""
        pid_file = self.dir / "pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if self.node.encode() in cmdline:
                os.kill(pid, signal.SIGKILL)
                for _ in range(50):
                    if not Path(f"/proc/{pid}").exists():
                        break
                    time.sleep(0.1)

    def start_again(self) -> None:
        self._spawn()
        self.restarts += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.ctl("stop", timeout=30)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
        self.kill()


# ---- a drop folder on a small disk ------------------------------------------------------------------------------


class SmallDisk:
    """A size-limited tmpfs for a drop folder, which ``fill`` fills up (writes then fail with ENOSPC) and ``free``
    frees. Without root (or where mounting is refused) it falls back to a folder made unwritable, and says so."""

    def __init__(self, root: Path, *, size_mb: int) -> None:
        self.mount = root / "smalldisk"
        self.size_mb = size_mb
        self.mounted = False
        self.fallback: str | None = None  # why there is no real full disk
        self.filler = self.mount / "filler.bin"
        self.full_since: float | None = None
        self.filled = 0  # bytes of filler written by the last fill

    def setup(self) -> None:
        self.mount.mkdir(parents=True)
        if not _is_root():
            self.fallback = "not root: cannot mount a tmpfs; the drop folder is made unwritable instead of full"
            return
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0755", "tmpfs",
                            str(self.mount)], capture_output=True, text=True)
        if p.returncode != 0:
            self.fallback = (f"mount -t tmpfs refused ({p.stderr.strip()}): the drop folder is made unusable "
                             "instead of full")
            return
        self.mounted = True

    def folder(self, name: str) -> Path:
        return self.mount / name

    def fill(self, folder: Path) -> int:
        """Fill the disk; returns the bytes written. Fallback: make ``folder`` unusable."""
        self.full_since = time.monotonic()
        if not self.mounted:
            if _is_root():  # permissions do not stop root: a file where the folder should be does
                blocked = folder.with_name(folder.name + ".away")
                if folder.exists():
                    folder.rename(blocked)
                folder.write_bytes(b"")
            else:
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(0o500)
            return 0
        written = 0
        chunk = b"\0" * (1 << 20)
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = len(chunk)
            while size >= 512:
                try:
                    written += os.write(fd, chunk[:size])
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    size //= 2
        finally:
            os.close(fd)
        self.filled = written
        return written

    def is_full(self) -> bool:
        if not self.mounted:
            return self.full_since is not None
        st = os.statvfs(self.mount)
        return st.f_bavail * st.f_frsize < 8192

    def free(self, folder: Path) -> None:
        self.full_since = None
        if not self.mounted:
            if folder.is_file():
                folder.unlink()
                away = folder.with_name(folder.name + ".away")
                if away.exists():
                    away.rename(folder)
            elif folder.exists():
                folder.chmod(0o755)
            return
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()

    def teardown(self) -> None:
        if self.mounted:
            p = subprocess.run(["umount", str(self.mount)], capture_output=True, text=True)
            if p.returncode != 0:
                subprocess.run(["umount", "-l", str(self.mount)], capture_output=True, text=True)
            self.mounted = False


# ---- the run's temporary root ------------------------------------------------------------------------------------


def make_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="xianjie-chaos-"))
    root.chmod(0o755)  # the postgres and rabbitmq users must reach their directories inside
    return root


def remove_root(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
