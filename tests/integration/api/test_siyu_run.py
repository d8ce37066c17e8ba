"""`siyu run` end to end: a real subprocess with the API and the worker, stopped with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest

from tests import TEST_CACHE_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

READY_LINE = "按 Ctrl-C 停止"
START_TIMEOUT_S = 240.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Output:
    """Collects a child's output on a thread, so a full pipe never blocks it."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        stream = proc.stdout
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._thread.start()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=10)


def test_siyu_run_serves_the_demo_shop_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    env.update(
        SIYU_VAR_DIR=str(tmp_path / "var"),
        # The model converted once per machine (converting it again is tested with a tiny model).
        SIYU_CACHE_DIR=str(TEST_CACHE_DIR),
        SIYU_API_PORT=str(port),
        SIYU_ENV="test",
        HF_HUB_OFFLINE="1",
    )
    siyu = Path(sys.executable).parent / "siyu"
    proc = subprocess.Popen(
        [str(siyu), "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = Output(proc)
    pids: dict[str, int] = {}
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while READY_LINE not in out.text:
            assert proc.poll() is None, f"siyu run exited early ({proc.returncode}):\n{out.text[-3000:]}"
            assert time.monotonic() < deadline, f"siyu run not ready:\n{out.text[-3000:]}"
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        assert httpx2.get(f"{base}/v1/health", timeout=10).status_code == 200
        assert f"{base}/docs" in out.text
        assert 'curl -s -H "Authorization: Bearer sk_siyu_' in out.text

        pids = {name: int(pid) for name, pid in re.findall(r"^(api|worker) pid=(\d+)$", out.text, re.M)}
        assert set(pids) == {"api", "worker"}
        assert all(alive(pid) for pid in pids.values())

        keys = dict(re.findall(r"^(owner|agent|service)\s+key: (sk_siyu_\S+)$", out.text, re.M))
        assert set(keys) == {"owner", "agent", "service"}
        shop = httpx2.get(f"{base}/v1/shop", headers={"Authorization": f"Bearer {keys['owner']}"}, timeout=10)
        assert shop.status_code == 200 and shop.json()["name"] == "鹿鸣优选"
        for role in ("agent", "service"):
            # Known keys with the wrong role: 403, not 401.
            r = httpx2.get(f"{base}/v1/shop", headers={"Authorization": f"Bearer {keys[role]}"}, timeout=10)
            assert r.status_code == 403, role
        keys_file = tmp_path / "var" / "demo-keys.json"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        assert keys["owner"] in keys_file.read_text()

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        out.join()
        assert "已停止" in out.text
        assert not any(alive(pid) for pid in pids.values())
        with pytest.raises(httpx2.TransportError):
            httpx2.get(f"{base}/v1/health", timeout=2)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in pids.values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        out.join()
        assert proc.stdout is not None
        proc.stdout.close()
