"""A real Ray cluster of two nodes on this machine, started with Ray's own CLI as a user
would (`ray start --head`, then `ray start --address`), token authentication on, and
stopped by the processes it started, however the test ends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.app.conftest import free_port

RAY = str(Path(sys.executable).with_name("ray"))


@dataclass
class Cluster:
    address: str
    env: dict  # what a client of this cluster needs: HOME (its token), RAY_AUTH_MODE
    temp_dir: Path
    head_node: str = ""
    worker_node: str = ""
    worker_port: int = 0
    client_port: int = 0

    def processes(self) -> list[psutil.Process]:
        """Every process of this cluster: the daemons name its temp folder or its client
        port on their command lines; the workers and agents are their children."""
        mine = []
        for p in psutil.process_iter(["cmdline"]):
            line = " ".join(p.info["cmdline"] or [])
            if str(self.temp_dir) in line or f"--port={self.client_port}" in line:
                mine.append(p)
        for p in list(mine):
            try:
                mine.extend(p.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        return list({p.pid: p for p in mine}.values())

    def raylet(self, node_manager_port: int) -> psutil.Process:
        for p in self.processes():
            try:
                if f"--node_manager_port={node_manager_port}" in p.cmdline() and "raylet" in p.name():
                    return p
            except psutil.NoSuchProcess:
                continue
        raise LookupError(f"no raylet on port {node_manager_port}")

    def kill_worker_node(self) -> None:
        """The second node goes away at once, as a machine does: its raylet and every
        process under it (the trial workers), SIGKILL."""
        raylet = self.raylet(self.worker_port)
        victims = raylet.children(recursive=True) + [raylet]
        for p in victims:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(victims, timeout=10)


def _node_id(raylet: psutil.Process) -> str:
    return next(a.split("=", 1)[1] for a in raylet.cmdline() if a.startswith("--node_id="))


def _ray(args: list[str], env: dict) -> None:
    out = subprocess.run([RAY, *args], env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"ray {' '.join(args[:2])} failed: {(out.stderr or out.stdout)[-1500:]}")


@contextmanager
def two_node_cluster(auth: bool = True, second_node: bool = True, head_cpus: int = 1):
    """`auth`: token authentication on (the token in HOME/.ray/auth_token, as `ray
    get-auth-token --generate` writes it); `second_node`: join a second node (1 CPU);
    `head_cpus` 0: only the second node takes work."""
    # A short folder: Ray's sockets live under it, and a socket path has at most 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="dl-ray-", dir="/tmp"))
    home = temp_dir / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "RAY_AUTH_MODE": "token" if auth else "disabled",
           # A lost node is noticed in about 2 s rather than Ray's default 15.
           "RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "500",
           "RAY_health_check_failure_threshold": "4", "RAY_USAGE_STATS_ENABLED": "0"}
    head_port, head_manager, worker_port, client_port = free_port(), free_port(), free_port(), free_port()
    cluster = Cluster(f"127.0.0.1:{head_port}", {"HOME": str(home), "RAY_AUTH_MODE": env["RAY_AUTH_MODE"]}, temp_dir,
                      worker_port=worker_port, client_port=client_port)
    try:
        if auth:
            _ray(["get-auth-token", "--generate"], env)  # Ray writes it to ~/.ray/auth_token
        _ray(["start", "--head", "--num-cpus", str(head_cpus), "--port", str(head_port),
              "--node-manager-port", str(head_manager),
              "--ray-client-server-port", str(client_port), "--dashboard-port", str(free_port()),
              "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", str(temp_dir)], env)
        cluster.head_node = _node_id(cluster.raylet(head_manager))
        if second_node:
            _ray(["start", "--address", cluster.address, "--num-cpus", "1", "--node-manager-port", str(worker_port),
                  "--disable-usage-stats"], env)
            cluster.worker_node = _node_id(cluster.raylet(worker_port))
        yield cluster
    finally:
        found = cluster.processes()
        for p in found:
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(found, timeout=10)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not cluster.processes(), "the cluster's processes outlived the test"
