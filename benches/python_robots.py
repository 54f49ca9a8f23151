"""Decisions per second through ``optout.evaluate_robots``, side by side in one run with
Protego (Scrapy's robots.txt parser) and Python's ``urllib.robotparser``, on the same
robots.txt files and the same URLs. Not a test: run by ``benches/python.sh``.

    python benches/python_robots.py [DIR] [--rounds N]

DIR holds robots.txt files named after their host (default ``tests/data/robots``, the
vendored corpus; ``../shared/corpus/robots`` has 3,015). For every file the same work is
timed for each library: parse the file once, then decide each of ``PATHS`` (or
``--per-file N`` URLs: ``PATHS`` then numbered variants of them) for ``AGENT``.
Each library runs ``--rounds`` times over the whole set, interleaved; the best round is
reported (the machine may be shared). Also printed: how often each library's answer
differs from optout's (urllib lets the first matching rule win, not the longest: it is not
RFC 9309).
"""

from __future__ import annotations

import argparse
import os
import time
import urllib.robotparser
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import optout
from protego import Protego

AGENT = "mybot"
PATHS = [
    "/", "/index.html", "/search?q=robots", "/wp-admin/", "/wp-admin/admin-ajax.php",
    "/private/x", "/api/v1/items", "/images/a.png", "/%7Euser/", "/cgi-bin/test",
    "/en/news/2026/article-1.html", "/tag/ai?page=2", "/login", "/cart", "/static/app.js",
    "/feed/", "/user/profile", "/docs/a/b/c/d", "/print/", "/?replytocom=1",
]

Corpus = List[Tuple[bytes, str, List[str]]]


def load(directory: Path, per_file: int = len(PATHS)) -> Corpus:
    corpus = []
    for file in sorted(directory.iterdir()):
        data = file.read_bytes()
        paths = [PATHS[i % len(PATHS)] + (f"{i}" if i >= len(PATHS) else "") for i in range(per_file)]
        urls = [f"https://{file.name}{p}" for p in paths]
        corpus.append((data, data.decode("utf-8", errors="replace"), urls))
    return corpus


def run_optout(corpus: Corpus) -> List[bool]:
    out = []
    for data, _, urls in corpus:
        out.extend(d.allowed for d in optout.evaluate_robots(data, urls, AGENT))
    return out


def run_protego(corpus: Corpus) -> List[bool]:
    out = []
    for _, text, urls in corpus:
        rp = Protego.parse(text)
        out.extend(bool(rp.can_fetch(url, AGENT)) for url in urls)
    return out


def run_urllib(corpus: Corpus) -> List[bool]:
    out = []
    for _, text, urls in corpus:
        rp = urllib.robotparser.RobotFileParser()
        rp.parse(text.splitlines())
        out.extend(rp.can_fetch(AGENT, url) for url in urls)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", nargs="?", default=str(Path(__file__).resolve().parents[1] / "tests" / "data" / "robots"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-file", type=int, default=len(PATHS), help="URLs per file (PATHS, then numbered variants)")
    args = parser.parse_args()
    corpus = load(Path(args.dir), args.per_file)
    decisions = sum(len(urls) for _, _, urls in corpus)
    runners: Dict[str, Callable[[Corpus], List[bool]]] = {
        "optout.evaluate_robots": run_optout,
        "protego": run_protego,
        "urllib.robotparser": run_urllib,
    }
    best = {name: float("inf") for name in runners}
    answers: Dict[str, List[bool]] = {}
    for _ in range(args.rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            answers[name] = run(corpus)
            best[name] = min(best[name], time.perf_counter() - start)
    load1 = os.getloadavg()[0]
    print(f"{len(corpus)} robots.txt files × {args.per_file} URLs = {decisions} decisions, agent {AGENT!r}, "
          f"best of {args.rounds} rounds, load average {load1:.1f}")
    base = best["protego"]
    print(f"{'library':<24} {'decisions/s':>12} {'µs/decision':>12} {'vs protego':>11} {'differs from optout':>20}")
    for name, seconds in best.items():
        differ = sum(a != b for a, b in zip(answers[name], answers["optout.evaluate_robots"]))
        print(f"{name:<24} {decisions / seconds:>12,.0f} {seconds / decisions * 1e6:>12.2f} "
              f"{base / seconds:>10.1f}× {differ:>14} ({differ / decisions:.1%})")


if __name__ == "__main__":
    main()
