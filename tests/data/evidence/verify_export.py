#!/usr/bin/env python3
"""Verify an optout evidence export (JSONL) without optout: verify_export.py FILE.
Exit 0 and "ok: ..." when every hash and link holds; exit 1 and "BROKEN: ..." otherwise."""
import hashlib, json, sys


def verify(path):
    prev, count, seq = None, 0, 0
    with open(path, "rb") as lines:  # binary: split on b"\n" only
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            claimed, prev_hash = record.pop("hash"), record.pop("prev_hash")
            canonical = json.dumps(record, sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False).encode("utf-8")
            seq = record.get("seq")
            if hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest() != claimed:
                sys.exit(f"BROKEN: line {number} (record {seq}): content does not match its hash")
            if prev is not None and prev_hash != prev:
                sys.exit(f"BROKEN: line {number} (record {seq}): prev_hash is not the previous line's hash")
            prev, count = claimed, count + 1
    print(f"ok: {count} records, head {seq} {prev}")


if __name__ == "__main__":
    verify(sys.argv[1])
