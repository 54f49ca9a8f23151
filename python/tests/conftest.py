"""Shared test support: the optout binary, and loopback sites whose request logs judge
what was requested.

``OPTOUT_BIN`` names the debug binary (``scripts/test-all`` exports it). Under CI
(``CI=true``) a missing binary fails the tests that need it; in a plain run they skip with
a note.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]


def optout_bin() -> str:
    path = os.environ.get("OPTOUT_BIN")
    if path and Path(path).is_file():
        return path
    if os.environ.get("CI"):
        pytest.fail("OPTOUT_BIN is not set to the optout binary (scripts/test-all sets it)")
    pytest.skip("OPTOUT_BIN unset: run through scripts/test-all to compare with the CLI")


def run_cli(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    done = subprocess.run([optout_bin(), *args], capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"optout {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def cli_json(*args: str) -> List[dict]:
    done = run_cli(*args)
    assert done.returncode in (0, 1), done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


Route = Tuple[int, Dict[str, str], bytes]


class Site:
    """A loopback HTTP site: ``routes`` maps a path to ``(status, headers, body)``
    (unknown paths are 404); ``slow`` maps a path to seconds to wait before answering.
    ``log`` lists ``(path, start, end)`` of every request, times from ``time.monotonic``."""

    def __init__(self, routes: Dict[str, Route], slow: Optional[Dict[str, float]] = None, host: str = "127.0.0.1"):
        self.routes = routes
        self.slow = slow or {}
        self.log: List[Tuple[str, float, float]] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                start = time.monotonic()
                path = self.path
                if path in site.slow:
                    time.sleep(site.slow[path])
                status, headers, body = site.routes.get(path, (404, {"Content-Type": "text/plain"}, b"not found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with site.lock:
                    site.log.append((path.split("?")[0], start, time.monotonic()))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.origin = f"http://{host}:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.origin + path

    def requested(self) -> List[str]:
        with self.lock:
            return [path for path, _, _ in self.log]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site_factory():
    sites: List[Site] = []

    def make(routes: Dict[str, Route], **kw) -> Site:
        s = Site(routes, **kw)
        sites.append(s)
        return s

    yield make
    for s in sites:
        s.close()


HTML = {"Content-Type": "text/html; charset=utf-8"}
TEXT = {"Content-Type": "text/plain"}
