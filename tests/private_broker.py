"""Private RabbitMQ nodes for destructive tests (restart, crash, alarms, node-wide settings).

The default node (127.0.0.1:5672) is shared by every broker test, and by other test runs on the
same machine: a test that restarts, kills or alarms a node, or changes a node-wide setting, does
it on a node of its own. ``PrivateNode`` starts one (own node name, AMQP and distribution ports,
data folder, ``rabbitmq.conf``) as the ``rabbitmq`` user with the package's inner
``rabbitmq-server -detached``, and reaches it with ``rabbitmqctl -n NAME``.

Each node's folder lives under ``BASE`` with an ``owner`` file naming the test process: a run
killed with SIGKILL leaves its nodes running, and the next run stops those whose owner is gone
(never the nodes of another run still going).

The fixtures (``private_node``, ``private_vhost_url``, ``make_private_node``) are registered for
the whole suite by ``pytest_plugins`` in ``tests/conftest.py``; tests using them carry the
``private_broker`` marker. A 3-node cluster (issue 17) would be three ``PrivateNode`` started in
parallel, nodes 2 and 3 joined with ``ctl("stop_app")``, ``ctl("join_cluster", first.name)``,
``start_app()``, then a wait until ``cluster_status`` lists three running nodes.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest

from mqwire.testing import skip_unless_ci, wait_until

#: Where node folders live: readable by the ``rabbitmq`` user (a temp dir under /root is not).
BASE = Path(os.environ.get("MQWIRE_PRIVATE_NODES_DIR", "/tmp/mqwire-private-nodes"))
NODE_PREFIX = "mqwire-test-"
#: Port ranges scanned (from a random offset) for free ports: below the ephemeral range.
AMQP_PORTS = range(5700, 6000)
MANAGEMENT_PORTS = range(15700, 16000)
DIST_PORTS = range(25700, 26000)
#: ``rabbitmqctl`` costs about a second of CPU per call here: never poll faster.
POLL = 1.0


def server_script() -> str | None:
    """The inner ``rabbitmq-server`` (Debian's /usr/sbin one switches user with ``su``)."""
    candidates = [
        os.environ.get("MQWIRE_RABBITMQ_SERVER", ""),
        "/usr/lib/rabbitmq/bin/rabbitmq-server",
        *sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server")),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def installed() -> bool:
    return server_script() is not None and shutil.which("rabbitmqctl") is not None


def process_identity(pid: int) -> str | None:
    """``PID:START_TIME`` of a live (not zombie) process, or ``None``: survives pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    if fields[0] in ("Z", "X"):  # a zombie: killed, waiting for a parent that may never reap
        return None
    return f"{pid}:{fields[19]}"


def _free_port(ports: range, taken: set[int]) -> int:
    start = random.randrange(len(ports))
    for i in range(len(ports)):
        port = ports[(start + i) % len(ports)]
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError(f"no free port in {ports}")


class PrivateNode:
    """One RabbitMQ node of a test's own; a context manager (starts, then stops and deletes)."""

    def __init__(
        self,
        purpose: str,
        conf: Sequence[str] = (),
        advanced_config: str = "[].",
        management: bool = False,
    ) -> None:
        stem = re.sub(r"[^A-Za-z0-9-]+", "-", purpose).strip("-")[:30] or "node"
        self.name = f"{NODE_PREFIX}{stem}-{uuid.uuid4().hex[:8]}@localhost"
        taken: set[int] = set()
        self.port = _free_port(AMQP_PORTS, taken)
        self.dist_port = _free_port(DIST_PORTS, taken)
        self.management_port = _free_port(MANAGEMENT_PORTS, taken) if management else None
        self.folder = BASE / self.name.split("@")[0]
        self._conf = list(conf)
        if self.management_port is not None:
            self._conf.append(f"management.tcp.port = {self.management_port}")
        self._advanced_config = advanced_config
        self._plugins = "[rabbitmq_management]." if management else "[]."
        self._ctl = shutil.which("rabbitmqctl") or "rabbitmqctl"
        self._created = False

    def __enter__(self) -> PrivateNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    def url(self, vhost: str = "/") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{quote(vhost, safe='')}"

    @property
    def pid_file(self) -> Path:
        return self.folder / "node.pid"

    def pid(self) -> int | None:
        """The node's beam.smp pid while it runs, else ``None``."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if process_identity(pid) else None

    # -- life cycle --------------------------------------------------------------------------

    def _create(self) -> None:
        BASE.mkdir(exist_ok=True)
        if BASE.stat().st_uid == os.geteuid():
            os.chmod(BASE, 0o1777)  # sticky and open, like /tmp: any user's runs may add nodes
        self.folder.mkdir(mode=0o755)
        owner = process_identity(os.getpid())
        (self.folder / "owner").write_text(f"{owner}\n")
        (self.folder / "rabbitmq.conf").write_text("".join(f"{line}\n" for line in self._conf))
        (self.folder / "advanced.config").write_text(self._advanced_config + "\n")
        (self.folder / "enabled_plugins").write_text(self._plugins + "\n")
        (self.folder / "rabbitmq-env.conf").write_text("")
        if os.geteuid() == 0:
            rabbitmq = pwd.getpwnam("rabbitmq")
            for path in [self.folder, *self.folder.iterdir()]:
                os.chown(path, rabbitmq.pw_uid, rabbitmq.pw_gid)
        self._created = True

    def _environ(self) -> dict[str, str]:
        home = pwd.getpwnam("rabbitmq").pw_dir if os.geteuid() == 0 else os.environ["HOME"]
        folder = str(self.folder)
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/bin"),
            "HOME": home,  # where the Erlang cookie rabbitmqctl uses is
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{folder}/mnesia",
            "RABBITMQ_LOG_BASE": f"{folder}/log",
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_CONFIG_FILE": f"{folder}/rabbitmq",  # without .conf
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{folder}/advanced.config",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{folder}/enabled_plugins",
            "RABBITMQ_CONF_ENV_FILE": f"{folder}/rabbitmq-env.conf",  # not the shared node's
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+S 1:1",  # one scheduler: 2 cores shared
        }

    def start(self) -> None:
        """Start the node (again, after ``kill``: same name, ports and data) and wait for it."""
        if self.pid() is not None:
            raise RuntimeError(f"{self.name} is already running")
        if not self._created:
            self._create()
        script = server_script()
        if script is None:
            raise RuntimeError("the inner rabbitmq-server script was not found")
        self.pid_file.unlink(missing_ok=True)  # a killed node's stale pid: wait would trust it
        as_rabbitmq: dict[str, object] = {}
        if os.geteuid() == 0:
            as_rabbitmq = {"user": "rabbitmq", "group": "rabbitmq", "extra_groups": []}
        with (self.folder / "server.out").open("ab") as out:
            subprocess.run(
                [script, "-detached"],
                env=self._environ(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=60,
                **as_rabbitmq,  # type: ignore[call-overload]
            )
        try:  # waits for the pid file, the distribution, then the rabbit application
            self.ctl("wait", "--timeout", "90", str(self.pid_file), timeout=120)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"{self.name} did not start: {exc.stderr}\n{self.logs()}") from exc

    def logs(self) -> str:
        """The node's own logs (for failure messages)."""
        texts = [p.read_text(errors="replace")[-4000:] for p in self.folder.glob("log/*.log")]
        return "\n".join(texts)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl -q -n NODE ARGS`` (stdin closed); its output. Costs ~1 s of CPU."""
        done = subprocess.run(
            [self._ctl, "-q", "-n", self.name, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return done.stdout

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup")

    def kill(self) -> None:
        """``kill -9`` of the node's beam.smp; returns once the process is gone."""
        pid = self.pid()
        if pid is None:
            raise RuntimeError(f"{self.name} is not running")
        os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: process_identity(pid) is None,
            timeout=30,
            what=f"{self.name} (pid {pid}) to die",
        )

    def stop(self) -> None:
        """Stop the node (kill it if it does not stop) and delete its folder."""
        stop_node(self.folder, self.name)

    def ensure_running(self) -> None:
        """Start the node if a test left it down (killed, or its application stopped)."""
        if self.pid() is None:
            self.start()
        elif not self.accepts():
            self.start_app()

    def accepts(self) -> bool:
        """True while the AMQP port accepts TCP connections (``stop_app`` closes it)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                return True
        except OSError:
            return False

    def add_vhost(self, vhost: str) -> str:
        """A vhost on this node where guest may do anything; its URL."""
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return self.url(vhost)

    # -- resource alarms ---------------------------------------------------------------------

    def alarms(self) -> str:
        """The node's resource alarms, as Erlang terms (``[]`` when none)."""
        return self.ctl("eval", "rabbit_alarm:get_alarms().").strip()

    @contextlib.contextmanager
    def memory_alarm(self) -> Iterator[None]:
        """A memory alarm for the block: publishing connections are blocked."""
        with self._alarm("memory", ("set_vm_memory_high_watermark", "0"), ("0.4",)):
            yield

    @contextlib.contextmanager
    def disk_alarm(self) -> Iterator[None]:
        """A disk alarm for the block: publishing connections are blocked."""
        with self._alarm("disk", ("set_disk_free_limit", "1000GB"), ("50MB",)):
            yield

    @contextlib.contextmanager
    def _alarm(self, kind: str, raise_: tuple[str, str], restore: tuple[str]) -> Iterator[None]:
        tag = f"{{resource_limit,{kind},"
        try:
            self.ctl(*raise_)
            self._poll(lambda: tag in self.alarms(), f"the {kind} alarm")
            yield
        finally:
            self.ctl(raise_[0], *restore)
        self._poll(lambda: tag not in self.alarms(), f"the {kind} alarm to clear")

    def _poll(self, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(POLL)  # each check is a rabbitmqctl call


def stop_node(folder: Path, name: str) -> None:
    """Stop a private node by name (kill -9 if it will not stop) and delete its folder."""
    try:
        pid = int((folder / "node.pid").read_text().strip())
    except (OSError, ValueError):
        pid = 0
    if pid and process_identity(pid):
        ctl = shutil.which("rabbitmqctl") or "rabbitmqctl"
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(
                [ctl, "-q", "-n", name, "stop"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
                check=True,
            )
        if process_identity(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: process_identity(pid) is None, timeout=30, what=f"{name} (pid {pid}) to stop"
        )
    shutil.rmtree(folder, ignore_errors=True)


def stop_leftovers() -> list[str]:
    """Stop the nodes of earlier runs whose test process is gone; the names stopped."""
    stopped = []
    for folder in sorted(BASE.glob(f"{NODE_PREFIX}*")) if BASE.is_dir() else []:
        try:
            owner = (folder / "owner").read_text().strip()
        except OSError:
            owner = ""
        pid = owner.split(":")[0]
        if owner and pid.isdigit() and process_identity(int(pid)) == owner:
            continue  # another run, still going: its nodes are its own
        stop_node(folder, f"{folder.name}@localhost")
        stopped.append(folder.name)
    return stopped


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def private_nodes_available() -> None:
    """Skips (fails when CI is set) without RabbitMQ; stops leftovers of killed runs first."""
    if not installed():
        skip_unless_ci("RabbitMQ is not installed: no private node for destructive tests")
    stopped = stop_leftovers()  # raises if one will not stop: never start over live leftovers
    if stopped:
        print(f"private_broker: stopped leftover nodes of a killed run: {', '.join(stopped)}")


@pytest.fixture(scope="module")
def _module_private_node(
    private_nodes_available: None, request: pytest.FixtureRequest
) -> Iterator[PrivateNode]:
    node = PrivateNode(request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))
    request.addfinalizer(node.stop)  # first: a start that fails halfway is cleaned up too
    node.start()
    yield node


@pytest.fixture
def private_node(_module_private_node: PrivateNode) -> PrivateNode:
    """A private node shared by one test module (1-4 s to boot); running when a test starts.

    Tests may restart, kill or alarm it; each test uses its own vhost (``private_vhost_url``).
    """
    _module_private_node.ensure_running()
    return _module_private_node


@pytest.fixture
def private_vhost_url(private_node: PrivateNode) -> str:
    """A fresh vhost on the module's private node (not deleted: the node goes at module end)."""
    return private_node.add_vhost(f"test-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def make_private_node(
    private_nodes_available: None, request: pytest.FixtureRequest
) -> Callable[..., PrivateNode]:
    """Starts nodes with special settings (``conf=["consumer_timeout = 5000"]``, ...) for one
    test; they are stopped and deleted when it ends."""

    def make(
        purpose: str = "", conf: Sequence[str] = (), advanced_config: str = "[].",
        management: bool = False,
    ) -> PrivateNode:  # fmt: skip
        node = PrivateNode(purpose or request.node.name[:30], conf, advanced_config, management)
        request.addfinalizer(node.stop)
        node.start()
        return node

    return make
