"""A real Scrapy crawl (in a subprocess) of a loopback site with OptoutMiddleware: refused
paths are never requested, reserved responses are dropped, the site's Crawl-delay is on the
download slot, and the evidence of every decision verifies with the binary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HTML, TEXT, run_cli

pytest.importorskip("scrapy")

PAGES = ["/ok", "/private/secret", "/noai-header", "/noai-meta", "/more"]


def test_scrapy_crawl_with_the_middleware(site_factory, tmp_path: Path) -> None:
    links = "".join(f'<a href="{p}">{p}</a>' for p in PAGES)
    site = site_factory(
        {
            "/robots.txt": (200, TEXT, b"User-agent: *\nDisallow: /private/\nCrawl-delay: 0.2\n"),
            "/": (200, HTML, f"<html><body>{links}</body></html>".encode()),
            "/ok": (200, HTML, b"<html><body>ok</body></html>"),
            "/more": (200, HTML, b'<html><body><a href="/private/deeper">x</a></body></html>'),
            "/private/secret": (200, HTML, b"secret"),
            "/private/deeper": (200, HTML, b"secret"),
            "/noai-header": (200, {**HTML, "X-Robots-Tag": "noai"}, b"<html><body>reserved</body></html>"),
            "/noai-meta": (200, HTML, b'<html><head><meta name="robots" content="noai"></head><body>reserved</body></html>'),
        }
    )
    store = tmp_path / "store"
    out = tmp_path / "out.json"
    script = Path(__file__).with_name("scrapy_crawl.py")
    done = subprocess.run(
        [sys.executable, str(script), site.url("/"), str(store), str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(out.read_text())
    requested = site.requested()
    assert not any(p.startswith("/private/") for p in requested), requested
    # The reserved pages were downloaded (only the response says so) but never parsed.
    assert "/noai-header" in requested and "/noai-meta" in requested
    parsed = sorted(u[len(site.origin):] for u in seen["items"])
    assert parsed == ["/", "/more", "/ok"]
    slot = seen["slots"]["127.0.0.1"]
    assert slot["delay"] >= 0.2 and slot["jitter"] in (0, 0.0, None)
    stats = seen["stats"]
    assert stats["optout/refused"] >= 2 and stats["optout/discarded"] == 2
    assert stats["optout/reason/robots.disallow"] >= 2
    assert stats["optout/reason/tags.noai"] >= 2
    assert run_cli("log", "verify", "--store", str(store), check=True).stdout.startswith("ok:")
