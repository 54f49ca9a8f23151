"""The Engine against loopback sites: decisions, fetches, the evidence log (verified by the
binary), typed store errors, the async twins, and the GIL released while it works."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from pathlib import Path

import optout
import pytest

from conftest import HTML, TEXT, run_cli

ROBOTS = b"User-agent: *\nDisallow: /private/\nCrawl-delay: 0.1\n"


def make_site(site_factory):
    return site_factory(
        {
            "/robots.txt": (200, TEXT, ROBOTS),
            "/ok": (200, HTML, b"<html><body>fine</body></html>"),
            "/noai-header": (200, {**HTML, "X-Robots-Tag": "noai"}, b"<html><body>no</body></html>"),
            "/noai-meta": (200, HTML, b'<html><head><meta name="robots" content="noai"></head></html>'),
            "/private/secret": (200, HTML, b"secret"),
        }
    )


def engine(tmp_path: Path, **kw) -> optout.Engine:
    return optout.Engine(store=str(tmp_path / "store"), agent="mybot", allow_private_addresses=True, **kw)


def test_check_many_decides_in_order_and_records(site_factory, tmp_path: Path) -> None:
    site = make_site(site_factory)
    with engine(tmp_path) as e:
        urls = [site.url("/ok"), site.url("/private/secret"), "not a url", site.url("/private/other"), site.url("/x")]
        decisions = e.check_many(urls)
        assert [d.verdict for d in decisions] == ["allowed", "refused", "error", "refused", "allowed"]
        assert [d.url for d in decisions] == urls
        assert decisions[1].reasons[0].code == "robots.disallow"
        assert decisions[1].reasons[0].line == 2
        seqs = [d.seq for d in decisions]
        assert seqs[2] is None and all(isinstance(s, int) for s in seqs[:2] + seqs[3:])
        assert e.check(site.url("/ok")).allowed
        assert e.crawl_delay(site.url("/ok")) == pytest.approx(0.1)
        verified = e.log.verify()
        assert verified.records == 5
    # A check fetches the policy files, never the pages; robots.txt once for the origin.
    requested = site.requested()
    assert requested.count("/robots.txt") == 1
    assert not any(p.startswith("/private/") or p == "/ok" for p in requested)
    run_cli("log", "verify", "--store", str(tmp_path / "store"), check=True)


def test_fetch_many_never_requests_refused_paths(site_factory, tmp_path: Path) -> None:
    site = make_site(site_factory)
    with engine(tmp_path) as e:
        urls = [site.url(p) for p in ["/ok", "/private/secret", "/noai-header", "/noai-meta"]] + ["::"]
        results = e.fetch_many(urls)
        verdicts = [r.decision.verdict for r in results]
        assert verdicts == ["allowed", "refused", "discarded", "discarded", "error"]
        ok = results[0]
        assert ok.status == 200 and ok.body == b"<html><body>fine</body></html>" and ok.allowed
        assert ok.headers["content-type"].startswith("text/html")
        assert all(r.body is None for r in results[1:])
        assert results[2].decision.reasons[0].code == "tags.noai"
        assert results[3].decision.reasons[0].source.startswith("meta")
        one = e.fetch(site.url("/private/other"))
        assert one.decision.verdict == "refused" and one.status is None
    assert not any(p.startswith("/private/") for p in site.requested())
    done = run_cli("log", "verify", "--store", str(tmp_path / "store"), check=True)
    assert done.stdout.startswith("ok:")


def test_export_and_checkpoint_are_the_clis(site_factory, tmp_path: Path) -> None:
    site = make_site(site_factory)
    store = tmp_path / "store"
    with engine(tmp_path) as e:
        e.check_many([site.url("/ok"), site.url("/private/a")])
        out = tmp_path / "export.jsonl"
        assert e.log.export(str(out)) == 2
        buffer = io.StringIO()
        assert e.log.export(buffer, verdict="refused") == 1
        binary = io.BytesIO()
        assert e.log.export(binary, format="csv") == 2
        assert binary.getvalue().startswith(b"seq,time,url")
        assert e.log.export(io.BytesIO(), since="2999-01-01T00:00:00Z") == 0
        checkpoint = e.log.checkpoint()
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert [r["verdict"] for r in lines] == ["allowed", "refused"]
    assert json.loads(buffer.getvalue())["url"] == site.url("/private/a")
    assert out.read_bytes() == run_cli("log", "export", "--store", str(store), check=True).stdout.encode()
    assert checkpoint.startswith("optout-checkpoint v1 seq=2 hash=")
    cli = run_cli("log", "checkpoint", "--store", str(store), check=True).stdout
    assert cli.split(" time=")[0] == checkpoint.split(" time=")[0]
    run_cli("log", "verify", "--export", str(out), check=True)


def test_a_store_held_by_another_engine_is_a_store_error(tmp_path: Path) -> None:
    with engine(tmp_path):
        with pytest.raises(optout.StoreError) as caught:
            engine(tmp_path)
    message = str(caught.value)
    assert "in use by another optout process" in message and "\n" not in message
    assert isinstance(caught.value, optout.OptoutError)
    # Closed, the store opens again.
    engine(tmp_path).close()


def test_a_damaged_store_is_a_store_error(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "something").write_text("not a store")
    with pytest.raises(optout.StoreError, match="not an optout store"):
        optout.Engine(store=str(store))


def test_config_errors_are_typed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[net]\nno_such_key = 1\n")
    with pytest.raises(optout.ConfigError):
        optout.Engine(config=str(bad), store=str(tmp_path / "store"))
    with pytest.raises(ValueError):
        optout.Engine(store=str(tmp_path / "store2"), agent="bad agent")


def test_async_twins(site_factory, tmp_path: Path) -> None:
    site = make_site(site_factory)

    async def main(e: optout.Engine):
        many, one, fetched, response, delay = await asyncio.gather(
            e.acheck_many([site.url("/ok"), "nope", site.url("/private/a")]),
            e.acheck(site.url("/x")),
            e.afetch(site.url("/noai-meta")),
            e.acheck_response(site.url("/ok"), {"X-Robots-Tag": "noai"}, b""),
            e.acrawl_delay(site.url("/ok")),
        )
        return many, one, fetched, response, delay

    with engine(tmp_path) as e:
        many, one, fetched, response, delay = asyncio.run(main(e))
        assert [d.verdict for d in many] == ["allowed", "error", "refused"]
        assert one.allowed
        assert fetched.decision.verdict == "discarded" and fetched.body is None
        assert response.verdict == "discarded" and response.reasons[0].code == "tags.noai"
        assert delay == pytest.approx(0.1)
        e.log.verify()
    assert "/private/a" not in site.requested()


def test_check_many_releases_the_gil(site_factory, tmp_path: Path) -> None:
    """Four threads, one origin each, whose robots.txt answers slowly: the server's own log
    shows requests from different threads in flight at the same moment."""
    sites = [site_factory({"/robots.txt": (200, TEXT, b"User-agent: *\nAllow: /\n")}, slow={"/robots.txt": 0.5}) for _ in range(4)]
    barrier = threading.Barrier(4)
    results = {}
    with engine(tmp_path) as e:

        def work(i: int) -> None:
            barrier.wait()
            results[i] = e.check_many([sites[i].url(f"/page/{n}") for n in range(3)])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert all(d.allowed for i in range(4) for d in results[i])
    spans = [next((s, end) for p, s, end in site.log if p == "/robots.txt") for site in sites]
    overlapping = sum(1 for i in range(4) for j in range(i + 1, 4) if spans[i][0] < spans[j][1] and spans[j][0] < spans[i][1])
    assert overlapping >= 1, spans


def test_closed_engine_refuses_calls(tmp_path: Path) -> None:
    e = engine(tmp_path)
    e.close()
    with pytest.raises(optout.OptoutError, match="closed"):
        e.check("https://example.com/")
    assert repr(e) == "Engine(closed)"
