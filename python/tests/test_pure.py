"""The pure functions decide as the CLI does on the same inputs (`optout check --robots
FILE --json --no-log`), on the vendored robots.txt corpus and on given headers and pages."""

from __future__ import annotations

from pathlib import Path

import optout
import pytest

from conftest import ROOT, cli_json

ROBOTS = sorted((ROOT / "tests" / "data" / "robots").iterdir())
PATHS = ["/", "/index.html", "/search?q=a", "/wp-admin/", "/private/x", "/api/v1/", "/images/a.png", "/%7Euser/", "/cgi-bin/x"]


def strip_seq(line: dict) -> dict:
    return {k: v for k, v in line.items() if k != "seq"}


@pytest.mark.parametrize("agent,purpose", [("optout", "train-ai"), ("GPTBot", "train-ai"), ("mybot", "search")])
def test_evaluate_robots_matches_the_cli_on_the_corpus(agent: str, purpose: str) -> None:
    assert len(ROBOTS) >= 50, "the vendored robots.txt corpus is missing"
    for file in ROBOTS[::3]:
        urls = [f"https://{file.name}{p}" for p in PATHS]
        ours = [d.to_dict() for d in optout.evaluate_robots(file.read_bytes(), urls, agent, purpose=purpose)]
        cli = cli_json("check", "--no-log", "--json", "--agent", agent, "--purpose", purpose, "--robots", str(file), *urls)
        assert [strip_seq(d) for d in ours] == [strip_seq(d) for d in cli], file.name
        assert all(d["seq"] is None for d in ours)


def test_unparsable_urls_are_errors_in_place() -> None:
    robots = b"User-agent: *\nDisallow: /private/\n"
    urls = ["https://example.com/private/a", "not a url", "http://[::1", "https://example.com/ok", b"https://example.com/private/b"]
    decisions = optout.evaluate_robots(robots, urls, "mybot")
    assert [d.verdict for d in decisions] == ["refused", "error", "error", "allowed", "refused"]
    assert decisions[1].reasons[0].code == "url.invalid"
    assert not decisions[1].allowed
    refused = decisions[0].reasons[0]
    assert (refused.code, refused.source, refused.line, refused.rule) == ("robots.disallow", "robots.txt", 2, "/private/")
    assert "robots.disallow" in repr(decisions[0])


def test_evaluate_matches_the_cli_with_headers_and_html(tmp_path: Path) -> None:
    robots = tmp_path / "robots.txt"
    robots.write_bytes(b"User-agent: *\nAllow: /\n")
    page = tmp_path / "page.html"
    page.write_bytes(b'<html><head><meta name="robots" content="noai, noimageai"></head><body>x</body></html>')
    url = "https://example.com/article"
    cases = [
        ({"headers": {"X-Robots-Tag": "noai"}}, ["--header", "X-Robots-Tag: noai"]),
        ({"html": page.read_bytes()}, ["--html", str(page)]),
        ({"headers": [("Content-Usage", "train-ai=n")]}, ["--header", "Content-Usage: train-ai=n"]),
        ({}, []),
    ]
    for kwargs, flags in cases:
        ours = optout.evaluate(url, robots=robots.read_bytes(), **kwargs).to_dict()
        cli = cli_json("check", "--no-log", "--json", "--robots", str(robots), *flags, url)
        assert strip_seq(ours) == strip_seq(cli[0]), flags


def test_bad_arguments_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="purpose"):
        optout.evaluate_robots(b"", ["https://example.com/"], "mybot", purpose="world-domination")
    with pytest.raises(ValueError, match="agent"):
        optout.evaluate_robots(b"", ["https://example.com/"], "my bot/1.0")
    with pytest.raises(ValueError, match="header"):
        optout.evaluate("https://example.com/", headers={"X-Robots-Tag": "all\r\nX-Robots-Tag: noai"})
    with pytest.raises(TypeError):
        optout.evaluate_robots(b"", "https://example.com/", "mybot")
