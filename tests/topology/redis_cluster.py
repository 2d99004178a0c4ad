"""A real Redis Cluster for tests: 3 masters and 3 replicas of ``redis-server`` on free local ports.

``start_cluster(root)`` (or the :func:`redis_cluster` context manager) writes one directory per node
under ``root``, starts the six servers, joins them with ``redis-cli --cluster create … --cluster-replicas
1 --cluster-yes`` and waits until every node reports ``cluster_state:ok``. The :class:`Cluster` it
returns gives the nodes' addresses and a ``redis+cluster://`` URL for ``--redis``, can kill a master and
wait for its replica to take over (:meth:`Cluster.fail_over`), restart a node, stop everything, and
:meth:`Cluster.stop` kills only the processes it started.

Nodes keep nothing on disk (no RDB, no AOF) and fail over fast (``cluster-node-timeout`` 1000 ms by
default), so a failover takes a few seconds.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import redis

from tests.conftest import free_port

REDIS_SERVER = shutil.which("redis-server") or "redis-server"
REDIS_CLI = shutil.which("redis-cli") or "redis-cli"


class ClusterError(RuntimeError):
    """The cluster could not be started, or did not reach the state waited for in time."""


@dataclass
class Node:
    """One ``redis-server`` of the cluster: its client port, cluster bus port, directory and process."""

    port: int
    bus_port: int
    dir: Path
    password: str | None = field(default=None, repr=False)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, timeout: float = 2.0) -> redis.Redis:
        """A plain client of this node alone (for CLUSTER/INFO commands and for inspecting its keys)."""
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=timeout,
                           socket_connect_timeout=timeout)

    def start(self, node_timeout_ms: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "redis.conf"
        config.write_text("\n".join([
            f"port {self.port}", f"cluster-port {self.bus_port}", "bind 127.0.0.1", "protected-mode no",
            "cluster-enabled yes", "cluster-config-file nodes.conf", f"cluster-node-timeout {node_timeout_ms}",
            "cluster-replica-validity-factor 0",   # a replica may always take over, however long it was cut off
            f"dir {self.dir}", "save \"\"", "appendonly no", "daemonize no",
            f"logfile {self.dir / 'redis.log'}",
            *([f"requirepass {self.password}", f"masterauth {self.password}"] if self.password else []), ""]))
        self.proc = subprocess.Popen([REDIS_SERVER, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def kill(self) -> None:
        """SIGKILL this node's process (only ours) and reap it."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


class Cluster:
    """A running cluster of :class:`Node`; see the module docstring."""

    def __init__(self, root: Path, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000,
                 password: str | None = None) -> None:
        self.root = Path(root)
        self.node_timeout_ms = node_timeout_ms
        self.replicas = replicas
        self.password = password
        self.nodes = [Node(free_port(), free_port(), self.root / f"node{i}", password)
                      for i in range(masters * (1 + replicas))]

    # -- what tests use ------------------------------------------------------------------------------
    @property
    def addresses(self) -> list[str]:
        """``host:port`` of every node, in start order."""
        return [node.address for node in self.nodes]

    @property
    def url(self) -> str:
        """``redis+cluster://`` naming every node (``--redis``, ``REDIS_URL``), with the password if any."""
        return "redis+cluster://" + (f":{self.password}@" if self.password else "") + ",".join(self.addresses)

    def node(self, address: str) -> Node:
        return next(n for n in self.nodes if n.address == address)

    def masters(self) -> list[Node]:
        """The live nodes that are masters holding slots now (asked of a live node)."""
        return [self.node(a) for a, _ in self._topology().items() if _ is None]

    def replica_of(self, master: Node) -> Node:
        """A live replica of ``master``."""
        for address, of in self._topology().items():
            if of == master.address and self.node(address).alive:
                return self.node(address)
        raise ClusterError(f"{master.address} has no live replica")

    def fail_over(self, master: Node | None = None, timeout: float = 30.0) -> tuple[Node, Node]:
        """Kill ``master`` (default: the first master) with SIGKILL and wait until its replica is master
        and the cluster is ``ok`` again. Returns ``(killed, promoted)``."""
        master = master or self.masters()[0]
        replica = self.replica_of(master)
        self.wait_replicated()
        master.kill()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if replica.client().info("replication").get("role") == "master" and self._all_ok():
                    return master, replica
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"{replica.address} did not take over from {master.address} in {timeout} s:\n"
                                   f"{replica.log()}")
            time.sleep(0.1)

    def restart(self, node: Node, timeout: float = 30.0) -> None:
        """Start a killed node again (with its nodes.conf it rejoins, as a replica when it was failed over)."""
        node.start(self.node_timeout_ms)
        self.wait_ok(timeout)

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every live node reports ``cluster_state:ok`` and knows every live node, and every live
        replica has finished its sync with its master (before that, a failover would promote a replica
        that holds nothing)."""
        deadline = time.monotonic() + timeout
        while not self._all_ok():
            if time.monotonic() > deadline:
                raise ClusterError(f"cluster not ok after {timeout} s:\n" + "\n".join(
                    f"--- {n.address}\n{n.log()}" for n in self.nodes))
            time.sleep(0.1)

    def wait_replicated(self, timeout: float = 30.0) -> None:
        """Until every live replica has applied everything its master had written when this was called.

        Replication is asynchronous: a master killed right after a write can take the write with it,
        and the promoted replica then answers without it. Tests that kill a master to see the cluster
        fail over (rather than to see a write lost) call this first."""
        deadline = time.monotonic() + timeout
        for address, of in self._topology().items():
            if of is not None:
                continue
            master = self.node(address)
            target = master.client().info("replication")["master_repl_offset"]
            for replica in (self.node(a) for a, m in self._topology().items() if m == address):
                if not replica.alive:
                    continue
                while True:
                    info = replica.client().info("replication")
                    if info.get("master_link_status") == "up" and info.get("slave_repl_offset", -1) >= target:
                        break
                    if time.monotonic() > deadline:
                        raise ClusterError(f"{replica.address} did not catch up with {address} (offset {target}) "
                                           f"in {timeout} s:\n{replica.log()}")
                    time.sleep(0.05)

    def stop(self) -> None:
        """Kill every node this cluster started (and nothing else)."""
        for node in self.nodes:
            node.kill()

    # -- internals -----------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "Cluster":
        self.root.mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            node.start(self.node_timeout_ms)
        for node in self.nodes:
            self._wait_answers(node, timeout)
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        create = subprocess.run([REDIS_CLI, *auth, "--cluster", "create", *self.addresses, "--cluster-replicas",
                                 str(self.replicas), "--cluster-yes"], capture_output=True, text=True, timeout=timeout)
        if create.returncode != 0:
            raise ClusterError(f"redis-cli --cluster create failed:\n{create.stdout}\n{create.stderr}")
        self.wait_ok(timeout)
        return self

    def _wait_answers(self, node: Node, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not node.alive:
                raise ClusterError(f"redis-server on {node.address} exited:\n{node.log()}")
            try:
                if node.client().ping():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"redis-server on {node.address} did not answer in {timeout} s")
            time.sleep(0.05)

    def _all_ok(self) -> bool:
        live = [n for n in self.nodes if n.alive]
        try:
            for node in live:
                client = node.client()
                if client.execute_command("CLUSTER", "INFO").decode().find("cluster_state:ok") < 0:
                    return False
                known = self._parse_nodes(client)
                if any(known.get(n.address, "fail") in ("fail", "handshake") for n in live):
                    return False
                replication = client.info("replication")
                if replication.get("role") == "slave" and (replication.get("master_link_status") != "up"
                                                           or replication.get("master_sync_in_progress")):
                    return False
        except redis.RedisError:
            return False
        return True

    def _topology(self) -> dict[str, str | None]:
        """``{address: None for a master with slots, or the address of the master it replicates}``, as
        one live node sees it."""
        for node in self.nodes:
            if not node.alive:
                continue
            try:
                raw = node.client().execute_command("CLUSTER", "NODES").decode()
            except redis.RedisError:
                continue
            ids, rows = {}, []
            for line in raw.splitlines():
                parts = line.split()
                address = parts[1].split("@")[0]
                ids[parts[0]] = address
                rows.append((address, parts[2], parts[3], parts[8:]))
            return {address: (None if "master" in flags else ids.get(of)) for address, flags, of, slots in rows
                    if "fail" not in flags.split(",") and ("master" not in flags or slots)}
        raise ClusterError("no node of the cluster answers")

    @staticmethod
    def _parse_nodes(client: redis.Redis) -> dict[str, str]:
        """``{address: "ok" | "fail" | "handshake"}`` from one node's CLUSTER NODES."""
        seen = {}
        for line in client.execute_command("CLUSTER", "NODES").decode().splitlines():
            parts = line.split()
            flags = parts[2].split(",")
            state = "fail" if ("fail" in flags or "fail?" in flags) else "handshake" if "handshake" in flags else "ok"
            seen[parts[1].split("@")[0]] = state
        return seen


PORT_ATTEMPTS = 3


def start_cluster(root: Path, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000,
                  password: str | None = None) -> Cluster:
    """Start a cluster in ``root`` (the caller stops it; prefer :func:`redis_cluster`); with ``password``
    every node requires it (``requirepass``, ``masterauth``). Raises :class:`ClusterError` — after
    killing what it started — when it does not come up."""
    if shutil.which(REDIS_SERVER) is None or shutil.which(REDIS_CLI) is None:
        raise ClusterError("redis-server and redis-cli are not installed (Debian: apt-get install redis-server)")
    attempt = 1
    while True:
        cluster = Cluster(root, masters, replicas, node_timeout_ms, password)
        try:
            return cluster.start()
        except ClusterError as exc:
            cluster.stop()
            # a free port chosen for a node was taken by another process before the node bound it: new ports
            if attempt == PORT_ATTEMPTS or "Failed listening on port" not in str(exc):
                raise
            attempt += 1
            shutil.rmtree(root, ignore_errors=True)
        except BaseException:
            cluster.stop()
            raise


@contextmanager
def redis_cluster(root: Path, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000,
                  password: str | None = None) -> Iterator[Cluster]:
    """A started cluster in ``root``, stopped on exit."""
    cluster = start_cluster(root, masters, replicas, node_timeout_ms, password)
    try:
        yield cluster
    finally:
        cluster.stop()


__all__ = ["Cluster", "ClusterError", "Node", "redis_cluster", "start_cluster"]
