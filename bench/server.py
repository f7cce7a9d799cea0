"""The server under test, as a subprocess (its own process group), with its
RSS and CPU read from /proc."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

from . import env as benv

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(kind: str, app: str, port: int, *, deflate: bool = False, workers: int = 1) -> list[str]:
    target = "bench.floor_app:application" if app == "floor" else "config.asgi:application"
    if kind in ("uvicorn", "uvicorn-legacy"):
        # "uvicorn": ``--ws websockets-sansio``, what the Procfile runs;
        # "uvicorn-legacy": ``--ws websockets``, the websockets library's legacy
        # protocol (deprecated; what Charla ran until session 7).
        ws = "websockets" if kind == "uvicorn-legacy" else "websockets-sansio"
        return [
            str(benv.VENV_BIN / "uvicorn"), target, "--host", "127.0.0.1", "--port", str(port),
            "--ws", ws, "--ws-per-message-deflate", "true" if deflate else "false", "--lifespan", "off",
            "--log-level", "warning", "--no-access-log", *(["--workers", str(workers)] if workers > 1 else []),
        ]
    if kind == "daphne":
        return [str(benv.VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "-v", "0", target]
    raise ValueError(kind)


class Server:
    def __init__(self, *, kind: str = "uvicorn", app: str = "charla", env: dict[str, str] | None = None,
                 log_path: Path | None = None, deflate: bool = False, workers: int = 1) -> None:
        self.kind, self.app, self.deflate, self.workers = kind, app, deflate, workers
        self.port = free_port()
        self.env = benv.base_env(PUBLIC_URL=f"http://127.0.0.1:{self.port}", **(env or {}))
        self.log_path = log_path or benv.LOGS / f"{kind}-{app}-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = " ".join(shlex.quote(c) for c in command(self.kind, self.app, self.port, deflate=self.deflate, workers=self.workers))
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        # exec keeps the pid: /proc/<pid> is the server itself.
        self.proc = subprocess.Popen(
            ["bash", "-c", f"ulimit -n {benv.NOFILE} 2>/dev/null || ulimit -n $(ulimit -Hn); exec {cmd}"],
            cwd=benv.ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}; see {self.log_path}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} did not listen within {timeout}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group only
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        self._log.close()

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        """The server's CPU time, with its worker processes' (``--workers``)."""
        total = 0
        for pid in [self.pid, *self._children()]:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:  # gone
                continue
            total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK

    def _children(self) -> list[int]:
        if self.workers <= 1:
            return []
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [int(pid) for pid in f.read().split()]
        except OSError:
            return []

    def threads(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        return 0

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)
