"""The datatrove filter over a small JSONL corpus: a real pipeline (reader, filter,
writer) drops the documents whose URL is refused, with the reason codes in its stats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import TEXT, run_cli

pytest.importorskip("datatrove")

from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.pipeline.writers import JsonlWriter  # noqa: E402

from optout.datatrove import OptoutFilter  # noqa: E402


def test_filter_drops_refused_documents(site_factory, tmp_path: Path) -> None:
    site = site_factory({"/robots.txt": (200, TEXT, b"User-agent: *\nDisallow: /private/\n")})
    other = site_factory({"/robots.txt": (500, TEXT, b"down")})
    docs = [
        ("a", site.url("/public/1")),
        ("b", site.url("/private/2")),
        ("c", site.url("/private/3")),
        ("d", other.url("/anything")),  # robots.txt 5xx: unreachable, refused
        ("e", "not a url"),
        ("f", None),
        ("g", site.url("/public/4")),
    ]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with (corpus / "part.jsonl").open("w") as f:
        for doc_id, url in docs:
            metadata = {} if url is None else {"url": url}
            f.write(json.dumps({"id": doc_id, "text": f"text {doc_id}", "metadata": metadata}) + "\n")
    store = tmp_path / "stores" / "{rank}"
    out = tmp_path / "kept"
    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(corpus)),
            OptoutFilter(store=str(store), agent="mybot", allow_private_addresses=True, batch_size=4),
            JsonlWriter(str(out)),
        ],
        tasks=1,
        logging_dir=str(tmp_path / "logs"),
    )
    stats = executor.run()
    kept = []
    for file in sorted(out.iterdir()):
        opener = gzip.open if file.suffix == ".gz" else open
        with opener(file, "rt") as f:
            kept += [json.loads(line)["id"] for line in f]
    assert kept == ["a", "g"]
    filter_stats = next(s for s in stats.stats if "optout" in s.name)
    counts = {k: v.total for k, v in filter_stats.stats.items()}
    assert counts["robots.disallow"] == 2
    assert counts["robots.unreachable"] == 1 or counts.get("robots.server-error") == 1, counts
    assert counts["url.invalid"] == 2
    assert counts["dropped"] == 5 and counts["forwarded"] == 2
    # The first task's own store holds the evidence of all seven decisions.
    verified = run_cli("log", "verify", "--store", str(tmp_path / "stores" / "0"), check=True).stdout
    assert "5 records" in verified
