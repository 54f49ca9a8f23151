"""``optout.client.Client`` against the real ``optout serve`` binary (``OPTOUT_BIN``), which
fetches from a loopback site served by this test. Without ``OPTOUT_BIN`` the tests skip
with a note, except under CI (``CI`` set), where they fail."""

import http.server
import importlib.util
import os
import pathlib
import subprocess
import sys
import tempfile
import threading

import pytest

CLIENT = pathlib.Path(__file__).resolve().parents[1] / "optout" / "client.py"
# The client alone, without the package's native engine.
_spec = importlib.util.spec_from_file_location("optout_client", CLIENT)
client_module = importlib.util.module_from_spec(_spec)
sys.modules["optout_client"] = client_module
_spec.loader.exec_module(client_module)
Client, ServeError = client_module.Client, client_module.ServeError

ROBOTS = "User-agent: *\nDisallow: /private/\n"
PAGE = b"<html><body>hello</body></html>"


def optout_bin():
    path = os.environ.get("OPTOUT_BIN")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("OPTOUT_BIN is not set (scripts/test-all sets it)")
        pytest.skip("OPTOUT_BIN is not set: build optout and set it to run these tests")
    return path


class Site(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        Site.seen.append(self.path)
        if self.path == "/robots.txt":
            body, kind, status = ROBOTS.encode(), "text/plain", 200
        elif self.path.startswith("/private/") or self.path in ("/.well-known/tdmrep.json", "/ai.txt"):
            body, kind, status = b"", "text/plain", 404
        else:
            body, kind, status = PAGE, "text/html", 200
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def service():
    binary = optout_bin()
    with tempfile.TemporaryDirectory() as tmp:
        config = pathlib.Path(tmp, "optout.toml")
        config.write_text("[politeness]\nmin_interval_ms = 1\n")
        token = "python-client-token-0123456789"
        env = dict(os.environ, OPTOUT_SERVE_TOKEN=token)
        process = subprocess.Popen(
            [binary, "--config", str(config), "--store", str(pathlib.Path(tmp, "store")),
             "--allow-private-addresses", "serve", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, env=env, text=True,
        )
        line = process.stdout.readline()
        assert line.startswith("listening on "), line
        yield line.split()[-1], token
        process.terminate()
        assert process.wait(timeout=30) == 0


def test_checks_keep_input_order_and_explain(service, site):
    base, token = service
    client = Client(base, token=token)
    urls = [f"{site}/a", f"{site}/private/b", "not a url", f"{site}/c"]
    decisions = client.check_many(urls, agent="mybot")
    assert [d.url for d in decisions] == urls
    assert [d.verdict for d in decisions] == ["allowed", "refused", "error", "allowed"]
    assert decisions[1].reasons[0]["code"] == "robots.disallow"
    assert decisions[1].reasons[0]["line"] == 2
    assert decisions[0].seq and decisions[2].seq is None
    one = client.check(f"{site}/private/x", purpose="search")
    assert not one.allowed and one.purpose == "search"
    assert not any(p.startswith("/private/") for p in Site.seen)


def test_evaluate_judges_given_inputs(service):
    base, token = service
    client = Client(base, token=token)
    got = client.evaluate_robots(ROBOTS, ["https://e.com/private/x", "https://e.com/y"])
    assert [d.verdict for d in got] == ["refused", "allowed"]
    got = client.evaluate(["https://e.com/y"], headers={"X-Robots-Tag": "noai"})
    assert got[0].verdict == "refused"


def test_fetches_return_bodies_only_when_allowed(service, site):
    base, token = service
    client = Client(base, token=token)
    page = client.fetch(f"{site}/page")
    assert page.allowed and page.body == PAGE and page.status == 200 and page.decision.seq
    refused = client.fetch(f"{site}/private/p")
    assert not refused.allowed and refused.body is None
    assert refused.decision.reasons[0]["code"] == "robots.disallow"
    results = list(client.fetch_many([f"{site}/1", f"{site}/private/2", f"{site}/3"]))
    assert [r.decision.verdict for r in results] == ["allowed", "refused", "allowed"]
    assert results[0].body == PAGE and results[1].body is None
    assert not any(p.startswith("/private/") for p in Site.seen)


def test_evidence_and_errors(service):
    base, token = service
    client = Client(base, token=token)
    checkpoint = client.checkpoint()
    assert checkpoint["line"].startswith("optout-checkpoint v1 seq=")
    records = list(client.evidence(verdict="refused"))
    assert records and all(r["verdict"] == "refused" for r in records)
    shown = client.show(records[0]["seq"])
    assert shown["record"]["seq"] == records[0]["seq"]
    with pytest.raises(ServeError) as error:
        Client(base, token="wrong-token-0123456789").check_many(["https://e.com/"])
    assert error.value.status == 401 and error.value.code == "unauthorized"
    with pytest.raises(ServeError) as error:
        client.check_many(["https://e.com/"], purpose="nonsense")
    assert error.value.code == "invalid"
