//! The evidence-log benchmark's work without criterion, for instruction counts: wall clock
//! on the shared development machine swings by 2×, `valgrind --tool=callgrind` does not.
//!
//! `cargo run --release --example evidence_profile -- MODE N`, MODE one of:
//! - `build`: only build the `N` records (subtract this from the others);
//! - `log`: build them and append them to a fresh log with group commit, then `sync()`;
//! - `per-record`: the same with a flush after every record;
//! - `raw`: `log`, then read the stored bytes back and insert them into a fresh sled tree
//!   opened like the store, then flush (the benchmark's ceiling; subtract `log`).
//!
//! Instructions per record: `(Ir(log N) - Ir(build N)) / N`, and so on.

#[path = "../benches/support/evidence_records.rs"]
mod evidence_records;
use optout::evidence::{Durability, EvidenceLog};
use optout::store::{HEAD_KEY, Store};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, n) = match args.as_slice() {
        [mode, n] => (mode.as_str(), n.parse().expect("N is a number")),
        _ => panic!("usage: evidence_profile build|log|per-record|raw N"),
    };
    let records = evidence_records::records(n);
    if mode == "build" {
        return;
    }
    let per_record = Durability {
        per_record: true,
        ..Durability::default()
    };
    let durability = if mode == "per-record" {
        per_record
    } else {
        Durability::default()
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = EvidenceLog::open(Store::open(dir.path()).expect("store"), durability)
        .expect("evidence log");
    for record in records {
        log.append(record).expect("append");
    }
    log.sync().expect("sync");
    if mode != "raw" {
        return;
    }
    let stored: Vec<Vec<u8>> = log
        .store()
        .records()
        .iter()
        .map(|kv| kv.expect("read back"))
        .filter(|(k, _)| k.as_ref() != HEAD_KEY)
        .map(|(_, v)| v.to_vec())
        .collect();
    let raw = tempfile::tempdir().expect("temporary directory");
    let db = Store::open(raw.path()).expect("store");
    for (seq, bytes) in (1u64..).zip(stored) {
        db.records()
            .insert(seq.to_be_bytes(), bytes)
            .expect("insert");
    }
    db.flush().expect("flush");
}
