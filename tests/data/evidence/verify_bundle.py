#!/usr/bin/env python3
"""Verify an optout evidence bundle without optout: verify_bundle.py BUNDLE.tar|DIRECTORY.

Checks every record's hash and exact canonical form, the links between consecutive records,
every snapshot against its name (and that each one a record names is there, and no other),
the checkpoint against its record when the bundle holds it, and the manifest's counts.
Exit 0 and "ok: ..." when intact; exit 1 and "BROKEN: ..." naming what changed.
Python 3 standard library only (docs/evidence.md in optout, "The auditor's bundle")."""
import hashlib, json, os, re, sys, tarfile

ROOT = "optout-bundle/"
FIXED = {"README.txt", "manifest.json", "checkpoint.txt", "records.jsonl", "verify_bundle.py"}
SHA = re.compile(r"[0-9a-f]{64}")
CHECKPOINT = re.compile(r"optout-checkpoint v1 seq=(\d+) hash=([0-9a-f]{64}) time=(\S+)\n?")


class Broken(Exception):
    pass


def files_of(path):
    """name (under ROOT) -> a function returning a binary file object."""
    if os.path.isdir(path):
        base = path if os.path.isfile(os.path.join(path, "manifest.json")) else os.path.join(path, ROOT)
        found = {}
        for dirpath, _, names in os.walk(base):
            for n in names:
                full = os.path.join(dirpath, n)
                rel = os.path.relpath(full, base).replace(os.sep, "/")
                found[rel] = (lambda f=full: open(f, "rb"))
        return found
    try:
        archive = tarfile.open(path, "r:")
        members = archive.getmembers()
    except (tarfile.TarError, OSError) as e:
        raise Broken(f"bundle: not a readable tar archive ({e})")
    found = {}
    for m in members:
        if m.isdir() and m.name.rstrip("/") + "/" in (ROOT, ROOT + "snapshots/"):
            continue
        if not m.isfile():
            raise Broken(f"bundle: {m.name!r} is not a plain file")
        if not m.name.startswith(ROOT):
            raise Broken(f"bundle: {m.name!r} is outside {ROOT}")
        name = m.name[len(ROOT):]
        if name in found:
            raise Broken(f"bundle: two files named {m.name!r}")
        found[name] = (lambda m=m: archive.extractfile(m))
    return found


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify(path):
    files = files_of(path)
    for name in files:
        if name not in FIXED and not (name.startswith("snapshots/") and SHA.fullmatch(name[10:])):
            raise Broken(f"bundle: unexpected file {ROOT}{name}")
    for name in ("manifest.json", "checkpoint.txt", "records.jsonl"):
        if name not in files:
            raise Broken(f"bundle: no {ROOT}{name} in the bundle")
    try:
        manifest = json.loads(files["manifest.json"]().read())
    except ValueError as e:
        raise Broken(f"bundle: manifest.json is not JSON ({e})")
    if manifest.get("format") != "optout-bundle" or manifest.get("version") != 1:
        raise Broken("bundle: manifest.json does not name format \"optout-bundle\" version 1")
    line = files["checkpoint.txt"]().read().decode("utf-8", "replace")
    match = CHECKPOINT.fullmatch(line)
    if not match:
        raise Broken("checkpoint: not an `optout-checkpoint v1` line (the checkpoint was changed)")
    cp_seq, cp_hash = int(match.group(1)), match.group(2)

    named, count, prev, first, last, gapless = {}, 0, None, None, None, True
    with files["records.jsonl"]() as lines:
        for raw in lines:
            raw = raw.rstrip(b"\n")
            if not raw.strip():
                continue
            count += 1
            try:
                record = json.loads(raw)
                seq = record["seq"]
                if not isinstance(seq, int):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise Broken(f"record {(last or 0) + 1}: not a record (not JSON, or no seq)")
            if canonical(record) != raw:
                raise Broken(f"record {seq}: not in canonical form (the record was edited)")
            try:
                claimed, linked = record.pop("hash"), record.pop("prev_hash")
                digest = hashlib.sha256(bytes.fromhex(linked) + canonical(record)).hexdigest()
            except (KeyError, TypeError, ValueError, AttributeError):
                raise Broken(f"record {seq}: missing or malformed hash or prev_hash")
            if digest != claimed:
                raise Broken(f"record {seq}: content does not match its hash (the record was changed)")
            if seq == 1 and linked != "0" * 64:
                raise Broken("record 1: prev_hash is not 64 zeros")
            if last is not None:
                if seq <= last:
                    raise Broken(f"record {seq}: comes after record {last} (records were reordered)")
                if seq == last + 1 and linked != prev:
                    raise Broken(f"record {seq}: prev_hash does not match the previous record's hash")
                gapless = gapless and seq == last + 1
            if seq > cp_seq:
                raise Broken(f"checkpoint: record {seq} is past the checkpoint's record {cp_seq}")
            for source in record.get("sources") or []:
                if isinstance(source, dict):
                    named.setdefault(source.get("sha256"), seq)
            first = seq if first is None else first
            prev, last = claimed, seq

    held = 0
    for name, open_file in sorted(files.items()):
        if not name.startswith("snapshots/"):
            continue
        sha = name[len("snapshots/"):]
        digest = hashlib.sha256()
        with open_file() as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha:
            raise Broken(f"snapshot {sha}: its bytes no longer match their name (the snapshot was changed)")
        if sha not in named:
            raise Broken(f"snapshot {sha}: in the bundle but named by no record (an extra file)")
        held += 1
    for sha, seq in sorted(named.items()):
        if "snapshots/" + str(sha) not in files:
            raise Broken(f"snapshot {sha}: named by record {seq} but missing from the bundle")

    reached = (last is None and cp_seq == 0) or last == cp_seq
    if last is not None and last == cp_seq and prev != cp_hash:
        raise Broken(f"checkpoint: its hash is not record {last}'s (the checkpoint or the record was changed)")
    if manifest.get("records") != count:
        raise Broken(f"bundle: manifest.json does not say {count} records")
    if manifest.get("snapshots") != held:
        raise Broken(f"bundle: manifest.json does not say {held} snapshots")
    if manifest.get("checkpoint") != line.rstrip("\n"):
        raise Broken("checkpoint: checkpoint.txt is not the checkpoint manifest.json names")
    complete = gapless and first in (None, 1) and reached
    shape = "the whole log to the checkpoint" if complete else (
        f"records {first}..{last}, filtered" if count else "no records")
    tie = "holds the checkpoint's record" if reached else "does not reach the checkpoint"
    print(f"ok: bundle intact, {count} records ({shape}), {held} snapshots, "
          f"checkpoint seq={cp_seq} hash={cp_hash} ({tie})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: verify_bundle.py BUNDLE.tar|DIRECTORY")
    try:
        verify(sys.argv[1])
    except Broken as e:
        print(f"BROKEN: {e}")
        sys.exit(1)
