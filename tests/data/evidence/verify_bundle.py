#!/usr/bin/env python3
"""Verify an optout evidence bundle without optout: verify_bundle.py BUNDLE.tar|DIRECTORY.

Checks the bundle against its specification (docs/evidence.md in optout, "The auditor's
bundle"): the archive's form, its members, the manifest's fields and their JSON types,
every record's hash and exact canonical form, the links between consecutive records (and,
for an unfiltered bundle, that no record is missing), every snapshot against its name, the
checkpoint against its record, and that README.txt and verify_bundle.py are this verifier's.
`optout log verify --bundle` makes the same checks, in the same order.
Exit 0 and "ok: ..." when intact; exit 1 and "BROKEN: ..." naming the first thing wrong.
Python 3 standard library only."""
import hashlib, json, os, re, sys, tarfile

ROOT = "optout-bundle/"
# Every member a bundle has besides its snapshots, in the order they are checked.
FIXED = ("README.txt", "manifest.json", "checkpoint.txt", "records.jsonl", "verify_bundle.py")
SHA = re.compile(r"[0-9a-f]{64}", re.ASCII)
CHECKPOINT = re.compile(
    r"optout-checkpoint v1 seq=(0|[1-9][0-9]*) hash=([0-9a-f]{64}) "
    r"time=([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z)\n",
    re.ASCII)
# The SHA-256 of the README.txt optout writes (optout's tests hold it to the README).
README_SHA256 = "5b3705de75dda91827cba8920d14c7644c411378ecfd5fc079f3e97b36106db1"
MAX_SMALL = 1 << 20          # README.txt, manifest.json, checkpoint.txt, verify_bundle.py
MAX_RECORD_LINE = 64 << 20   # one line of records.jsonl, without its LF
MAX_ENTRIES = 10_000_000
U64 = 1 << 64
BLOCK = 512
MANIFEST_KEYS = ("format", "version", "created", "optout", "filter", "records",
                 "first_seq", "last_seq", "snapshots", "checkpoint")
FILTER_KEYS = ("since", "until", "host", "verdict")


class Broken(Exception):
    pass


def q(name):
    """A member's name quoted as optout quotes it."""
    return '"' + name + '"'


def zeros(f, start, length, what):
    """Raises unless `length` bytes of `f` from `start` are there and all zero."""
    f.seek(start)
    while length > 0:
        chunk = f.read(min(length, 1 << 16))
        if not chunk:
            raise Broken(f"bundle: {what} is cut short (the file ends)")
        if chunk.count(0) != len(chunk):
            raise Broken(f"bundle: {what} is not all zero bytes")
        length -= len(chunk)


class Archive:
    """The members of a bundle file: a ustar archive of plain files under ROOT."""

    def __init__(self, path):
        self.file = open(path, "rb")
        self.size = os.fstat(self.file.fileno()).st_size
        self.members = {}
        try:
            archive = tarfile.open(fileobj=self.file, mode="r:")
            for m in archive:
                self.add(m)
            end = archive.offset
            self.file.seek(end)
            block = self.file.read(BLOCK)
            if block.count(0) != len(block):  # tarfile stops quietly at a bad later header
                raise Broken(f"bundle: not a readable tar archive (the header at byte {end} does not read)")
        except tarfile.ReadError as e:
            if self.size == 0:  # no member at all: named as missing members, as optout does
                self.end = 0
                return
            raise Broken(f"bundle: not a readable tar archive ({e})")
        except (tarfile.TarError, EOFError, UnicodeError) as e:
            raise Broken(f"bundle: not a readable tar archive ({e})")
        self.end = end

    def add(self, m):
        self.file.seek(m.offset)
        header = self.file.read(BLOCK)
        if len(self.members) >= MAX_ENTRIES:
            raise Broken(f"bundle: more than {MAX_ENTRIES} files")
        if m.offset_data != m.offset + BLOCK or header[156:157] not in (b"0", b"\0") or not m.isreg():
            raise Broken(f"bundle: {q(m.name)} is not a plain file (a link, device or tar extension)")
        if header[257:265] != b"ustar\x0000":
            raise Broken(f"bundle: {q(m.name)} is not a ustar header")
        unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
        if int(header[148:156].strip(b" \0") or b"0", 8) != unsigned:
            raise Broken("bundle: not a readable tar archive (archive header checksum mismatch)")
        if not m.name.startswith(ROOT):
            raise Broken(f"bundle: {q(m.name)} is outside {ROOT}")
        name = m.name[len(ROOT):]
        if name in self.members:
            raise Broken(f"bundle: two files named {q(m.name)}")
        self.members[name] = (m.offset_data, m.size)

    def check_form(self):
        """Zero padding after each member, and zero blocks (at least two) to the end."""
        for name, (pos, size) in sorted(self.members.items()):
            if pos + size > self.size:
                raise Broken(f"bundle: {ROOT}{name} is cut short (the file ends)")
            zeros(self.file, pos + size, -size % BLOCK, f"the padding after {ROOT}{name}")
        tail = self.size - self.end
        if tail < 2 * BLOCK or tail % BLOCK:
            raise Broken("bundle: the archive does not end with zero blocks (it was cut or appended to)")
        zeros(self.file, self.end, tail, "the end of the archive")

    def size_of(self, name):
        return self.members[name][1]

    def open(self, name):
        pos, size = self.members[name]
        return Member(self.file, pos, size)


class Member:
    """A member's bytes, read where they lie in the archive."""

    def __init__(self, f, pos, size):
        self.f, self.pos, self.left = f, pos, size

    def read(self, n=-1):
        n = self.left if n < 0 else min(n, self.left)
        self.f.seek(self.pos)
        data = self.f.read(n)
        self.pos += len(data)
        self.left -= len(data)
        return data

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False

    def readline(self, limit):
        data = self.read(limit)
        cut = data.find(b"\n")
        if cut >= 0:
            back = len(data) - cut - 1
            self.pos -= back
            self.left += back
            data = data[:cut + 1]
        return data


class Directory:
    """The members of an extracted bundle (its tar form is not there to check)."""

    def __init__(self, path):
        base = path if os.path.isfile(os.path.join(path, "manifest.json")) else os.path.join(path, ROOT)
        self.members = {}
        for dirpath, _, names in os.walk(base):
            for n in names:
                full = os.path.join(dirpath, n)
                self.members[os.path.relpath(full, base).replace(os.sep, "/")] = full

    def check_form(self):
        pass

    def size_of(self, name):
        return os.path.getsize(self.members[name])

    def open(self, name):
        return open(self.members[name], "rb")


def small(bundle, name):
    """A small member's bytes, at most MAX_SMALL."""
    if bundle.size_of(name) > MAX_SMALL:
        raise Broken(f"bundle: {ROOT}{name} is larger than {MAX_SMALL} bytes")
    return bundle.open(name).read()


def text(bundle, name):
    """A small member as UTF-8 text with LF line endings only."""
    try:
        value = small(bundle, name).decode("utf-8")
    except UnicodeDecodeError:
        raise Broken(f"bundle: {ROOT}{name} is not UTF-8")
    if "\r" in value:
        raise Broken(f"bundle: {ROOT}{name} holds a CR (line endings are LF only)")
    return value


def is_u64(x):
    # bool is a subclass of int in Python: `true` is not a number in JSON.
    return type(x) is int and 0 <= x < U64


def no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise Broken(f"bundle: manifest.json: duplicate field `{key}`")
        seen[key] = value
    return seen


def not_a_number(what):
    raise ValueError(f"{what} is not an integer")


def read_manifest(bundle):
    try:
        manifest = json.loads(text(bundle, "manifest.json"), object_pairs_hook=no_duplicates,
                              parse_constant=not_a_number)
    except ValueError as e:
        raise Broken(f"bundle: manifest.json is not JSON ({e})")
    if not isinstance(manifest, dict):
        raise Broken("bundle: manifest.json: not a JSON object")
    for key in manifest:
        if key not in MANIFEST_KEYS:
            raise Broken(f"bundle: manifest.json: unknown field `{key}`")
    for key in MANIFEST_KEYS:
        if key not in manifest:
            raise Broken(f"bundle: manifest.json: missing field `{key}`")
    bad = lambda what: Broken(f"bundle: manifest.json: {what}")
    if manifest["format"] != "optout-bundle":
        raise bad("`format` is not \"optout-bundle\"")
    if not (is_u64(manifest["version"]) and manifest["version"] == 1):
        raise bad("`version` is not the integer 1")
    for key in ("created", "optout", "checkpoint"):
        if not isinstance(manifest[key], str):
            raise bad(f"`{key}` is not a string")
    for key in ("records", "snapshots"):
        if not is_u64(manifest[key]):
            raise bad(f"`{key}` is not an integer from 0 to 2^64-1")
    for key in ("first_seq", "last_seq"):
        if manifest[key] is not None and not is_u64(manifest[key]):
            raise bad(f"`{key}` is neither null nor an integer from 0 to 2^64-1")
    filt = manifest["filter"]
    if filt is not None:
        if not isinstance(filt, dict):
            raise bad("`filter` is neither null nor an object")
        for key in filt:
            if key not in FILTER_KEYS:
                raise bad(f"unknown field `{key}`")
        for key in FILTER_KEYS:
            if key not in filt:
                raise bad(f"missing field `{key}`")
        if not all(v is None or isinstance(v, str) for v in filt.values()):
            raise bad("`filter` has a value neither a string nor null")
        if all(v is None for v in filt.values()):
            raise bad("`filter` names no filter (an unfiltered bundle says null)")
    return manifest


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def lines_of(f):
    """records.jsonl, line by line: each LF-terminated, UTF-8, no CR, not empty, bounded."""
    number = 0
    while True:
        raw = f.readline(MAX_RECORD_LINE + 1)
        if not raw:
            return
        number += 1
        where = f"bundle: records.jsonl line {number}"
        if not raw.endswith(b"\n"):
            if len(raw) > MAX_RECORD_LINE:
                raise Broken(f"{where} is longer than {MAX_RECORD_LINE} bytes")
            raise Broken(f"{where} does not end in LF (the file was cut)")
        raw = raw[:-1]
        if b"\r" in raw:
            raise Broken(f"{where} holds a CR (line endings are LF only)")
        if not raw:
            raise Broken(f"{where} is empty")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Broken(f"{where} is not UTF-8")
        yield raw


def parse_record(raw, position):
    """A record line, parsed, with its hash and prev_hash taken out."""
    def bad(what):
        return Broken(f"record {position}: {what}")
    try:
        record = json.loads(raw, parse_float=not_a_number, parse_constant=not_a_number)
    except (ValueError, RecursionError) as e:
        raise bad(f"not JSON: {e}")
    if not isinstance(record, dict):
        raise bad("not a JSON object")
    for key in ("hash", "prev_hash"):
        value = record.get(key)
        if not (isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{64}", value, re.ASCII)):
            raise bad(f"missing or malformed `{key}`")
    if not is_u64(record.get("seq")):
        raise bad("missing `seq`")
    return record


def check_record(raw, record, position, prev):
    """The link to `prev` (if given), the exact canonical form, and the hash."""
    def bad(what):
        return Broken(f"record {position}: {what}")
    if prev is not None and record["prev_hash"].lower() != prev:
        raise bad("prev_hash does not match the previous record's hash (a record was removed, inserted or reordered)")
    try:
        form = canonical({**record, "hash": record["hash"].lower(),
                          "prev_hash": record["prev_hash"].lower()})
    except UnicodeEncodeError:  # a lone surrogate escape
        raise bad("not in canonical form (the record was edited)")
    if form != raw:
        raise bad("not in canonical form (the record was edited)")
    content = dict(record)
    claimed, linked = content.pop("hash"), content.pop("prev_hash")
    if hashlib.sha256(bytes.fromhex(linked) + canonical(content)).hexdigest() != claimed:
        raise bad("content does not match its hash (the record was changed)")


def walk_records(bundle, cp_seq, unfiltered):
    """Checks records.jsonl; returns (count, first, last, last hash, {snapshot: first record})."""
    named, count, first, last, last_hash = {}, 0, None, None, None
    with bundle.open("records.jsonl") as f:
        for raw in lines_of(f):
            count += 1
            try:
                own = json.loads(raw).get("seq")
            except (ValueError, AttributeError, RecursionError):
                own = None
            own = own if is_u64(own) else None
            if last is None:
                position = own if own is not None else count
                record = parse_record(raw, position)
                check_record(raw, record, position, "0" * 64 if own == 1 else None)
            elif own is not None and own > last + 1:
                record = parse_record(raw, own)
                check_record(raw, record, own, None)
            else:
                record = parse_record(raw, last + 1)
                if record["seq"] != last + 1:
                    raise Broken(f"record {last + 1}: sequence number {record['seq']} where {last + 1} "
                                 "was expected (a record was removed or reordered)")
                check_record(raw, record, last + 1, last_hash)
            seq = record["seq"]
            if seq > cp_seq:
                raise Broken(f"checkpoint: record {seq} is past the checkpoint's record {cp_seq} "
                             "(records were added, or the checkpoint was changed)")
            if unfiltered:
                expected = 1 if last is None else last + 1
                if seq != expected:
                    raise Broken(f"bundle: records {expected}..{seq - 1} are missing from an unfiltered "
                                 "bundle (manifest.json `filter` is null)")
            sources = record.get("sources")
            for source in sources if isinstance(sources, list) else []:
                if isinstance(source, dict) and isinstance(source.get("sha256"), str):
                    named.setdefault(source["sha256"], seq)
            first = seq if first is None else first
            last, last_hash = seq, record["hash"]
    return count, first, last, last_hash, named


def check_snapshots(bundle, named):
    held = 0
    for name in sorted(bundle.members):
        if not name.startswith("snapshots/"):
            continue
        sha = name[len("snapshots/"):]
        digest = hashlib.sha256()
        with bundle.open(name) as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha:
            raise Broken(f"snapshot {sha}: its bytes no longer match their name (the snapshot was changed)")
        held += 1
    for sha, seq in sorted(named.items()):
        if "snapshots/" + sha not in bundle.members:
            raise Broken(f"snapshot {sha}: named by record {seq} but missing from the bundle")
    for name in sorted(bundle.members):
        sha = name[len("snapshots/"):]
        if name.startswith("snapshots/") and sha not in named:
            raise Broken(f"snapshot {sha}: in the bundle but named by no record (an extra file)")
    return held


def verify(path):
    bundle = Directory(path) if os.path.isdir(path) else Archive(path)
    for name in sorted(bundle.members):
        if name not in FIXED and not (name.startswith("snapshots/") and SHA.fullmatch(name[10:])):
            raise Broken(f"bundle: unexpected file {ROOT}{name}")
    for name in FIXED:
        if name not in bundle.members:
            raise Broken(f"bundle: no {ROOT}{name} in the bundle")
    bundle.check_form()
    if hashlib.sha256(small(bundle, "README.txt")).hexdigest() != README_SHA256:
        raise Broken("bundle: README.txt is not the README optout writes (it was changed)")
    with open(os.path.abspath(__file__), "rb") as me:
        if small(bundle, "verify_bundle.py") != me.read():
            raise Broken("bundle: verify_bundle.py is not this verifier (it was replaced or changed; "
                         "run a copy you trust)")
    manifest = read_manifest(bundle)
    line = text(bundle, "checkpoint.txt")
    match = CHECKPOINT.fullmatch(line)
    if not match:
        raise Broken("checkpoint: not an `optout-checkpoint v1` line (the checkpoint was changed)")
    if int(match.group(1)) >= U64:
        raise Broken("checkpoint: `seq` is not a number (the checkpoint was changed)")
    cp_seq, cp_hash = int(match.group(1)), match.group(2)
    unfiltered = manifest["filter"] is None

    count, first, last, last_hash, named = walk_records(bundle, cp_seq, unfiltered)
    held = check_snapshots(bundle, named)
    reached = (last is None and cp_seq == 0) or last == cp_seq
    if last is not None and last == cp_seq and last_hash != cp_hash:
        raise Broken(f"checkpoint: its hash is not record {last}'s (the checkpoint or the record was changed)")
    if unfiltered and not reached:
        raise Broken(f"bundle: records {(last or 0) + 1}..{cp_seq} are missing from an unfiltered "
                     "bundle (manifest.json `filter` is null)")
    if manifest["records"] != count:
        raise Broken(f"bundle: manifest.json does not say {count} records "
                     "(the manifest was changed, or records removed)")
    if manifest["first_seq"] != first or manifest["last_seq"] != last:
        raise Broken("bundle: manifest.json `first_seq` and `last_seq` are not the records' first and last")
    if manifest["snapshots"] != held:
        raise Broken(f"bundle: manifest.json does not say {held} snapshots (the manifest was changed)")
    if manifest["checkpoint"] != line[:-1]:
        raise Broken("checkpoint: checkpoint.txt is not the checkpoint manifest.json names "
                     "(one of them was changed)")
    complete = first in (None, 1) and reached and (count == 0 or last - first + 1 == count)
    shape = "the whole log to the checkpoint" if complete else (
        f"records {first}..{last}, filtered: links checked between consecutive records only"
        if count else "no records")
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
    except OSError as e:
        sys.exit(f"verify_bundle.py: {e}")
