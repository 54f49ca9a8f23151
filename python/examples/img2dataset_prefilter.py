"""Pre-filter an img2dataset URL list with optout before downloading anything.

img2dataset never reads robots.txt and looks at ``X-Robots-Tag`` only after downloading
the image. Run this first: it checks every URL against what its site reserves (robots.txt
per RFC 9309, tdmrep.json, ai.txt; each origin's files fetched once, cached in the store),
records every decision in the evidence log, and writes the allowed rows for img2dataset::

    python img2dataset_prefilter.py urls.parquet allowed.parquet --agent mybot --store optout-store
    img2dataset --url_list allowed.parquet --input_format parquet ...

Input: a text file (one URL a line), a CSV/TSV with a ``url`` column, or a Parquet file
(needs pandas and pyarrow). Refused rows go to ``<output>.refused.csv`` with their reason
codes. img2dataset still checks the response headers it downloads (keep its
``--disallowed_header_directives``), or fetch through ``Engine.fetch_many`` instead.
"""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Iterator, List

import optout

BATCH = 10_000


def read_urls(path: str) -> List[dict]:
    if path.endswith(".parquet"):
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    if path.endswith((".csv", ".tsv")):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f, delimiter="\t" if path.endswith(".tsv") else ","))
    with open(path, encoding="utf-8") as f:
        return [{"url": line.strip()} for line in f if line.strip()]


def write_rows(path: str, rows: List[dict]) -> None:
    if path.endswith(".parquet"):
        import pandas as pd

        pd.DataFrame(rows).to_parquet(path)
        return
    if not rows:
        open(path, "w").close()
        return
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def batches(rows: List[dict]) -> Iterator[List[dict]]:
    for i in range(0, len(rows), BATCH):
        yield rows[i : i + BATCH]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--agent", required=True, help="your crawler's product token")
    parser.add_argument("--purpose", default="train-ai")
    parser.add_argument("--store", default=None, help="the evidence store (default: the CLI's)")
    parser.add_argument("--url-column", default="url")
    args = parser.parse_args(argv)

    rows = read_urls(args.input)
    allowed, refused = [], []
    with optout.Engine(store=args.store, agent=args.agent, purpose=args.purpose) as engine:
        for batch in batches(rows):
            decisions = engine.check_many(str(row.get(args.url_column) or "") for row in batch)
            for row, decision in zip(batch, decisions):
                if decision.allowed:
                    allowed.append(row)
                else:
                    codes = ";".join(r.code for r in decision.reasons)
                    refused.append({"url": decision.url, "verdict": decision.verdict, "reasons": codes, "seq": decision.seq})
        checkpoint = engine.log.checkpoint()
    write_rows(args.output, allowed)
    write_rows(args.output + ".refused.csv", refused)
    print(f"{len(allowed)} allowed, {len(refused)} refused; evidence: {checkpoint}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
