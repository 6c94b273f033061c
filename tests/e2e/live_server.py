"""A real `shopmind serve` in a subprocess on a free port, for tests that must hit the live server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SHOPMIND = [sys.executable, "-m", "shopmind"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(home: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, SHOPMIND_HOME=str(home), SHOPMIND_MODELS_PATH=str(REPO / ".shopmind" / "test-models"),
                NO_COLOR="1", COLUMNS="200", **extra)


def cli(env: dict[str, str], *args: str, expect: int = 0, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([*SHOPMIND, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == expect, f"{args}: rc={proc.returncode}\nstdout={proc.stdout[-2000:]}\nstderr={proc.stderr[-3000:]}"
    return proc


class LiveServer:
    """Start with `LiveServer(env).start()`, stop with `.stop()`; `.base` is the URL."""

    def __init__(self, env: dict[str, str], host: str = "127.0.0.1") -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://{host}:{self.port}"
        self.host = host
        self.proc: subprocess.Popen | None = None
        self.log = Path(env["SHOPMIND_HOME"]).parent / f"server-{self.port}.log"

    def start(self, timeout: float = 120) -> "LiveServer":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_fh = self.log.open("w")
        self.proc = subprocess.Popen([*SHOPMIND, "serve", "--host", self.host, "--port", str(self.port)], env=self.env,
                                     stdout=self._log_fh, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("server did not start: " + self.output())

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log_fh.close()
        return self.proc.returncode
