//! The evidence-log benchmark's work without criterion, for instruction counts: wall clock
//! on the shared development machine swings by 2×, `valgrind --tool=callgrind` does not.
//!
//! `cargo run --release --example evidence_profile -- MODE N`, MODE one of:
//! - `build`: only build the `N` records (subtract this from the others);
//! - `log`: build them and append them to a fresh log with group commit, then `sync()`;
//! - `per-record`: the same with a flush after every record;
//! - `raw`: `log`, then read the stored records back and insert them, one a value, into a
//!   fresh store's records tree, then flush (the benchmark's per-record ceiling; subtract
//!   `log`);
//! - `raw-blocks`: the same with the records in blocks as the log cuts them
//!   ([`block::pack`]), one insert a block (the benchmark's block ceiling: the layout the
//!   log writes).
//!
//! Instructions per record: `(Ir(log N) - Ir(build N)) / N`, and so on.

#[path = "../benches/support/evidence_records.rs"]
mod evidence_records;
use optout::evidence::{Durability, EvidenceLog, block};
use optout::store::{Sled, Store};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, n) = match args.as_slice() {
        [mode, n] => (mode.as_str(), n.parse().expect("N is a number")),
        _ => panic!("usage: evidence_profile build|log|per-record|raw|raw-blocks N"),
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
    if mode != "raw" && mode != "raw-blocks" {
        return;
    }
    let stored: Vec<Vec<u8>> = block::records(log.store())
        .map(|entry| entry.expect("read back").bytes().to_vec())
        .collect();
    let values: Vec<([u8; 8], Vec<u8>)> = if mode == "raw" {
        (1u64..).map(u64::to_be_bytes).zip(stored).collect()
    } else {
        block::pack(1, stored.iter().map(Vec::as_slice))
    };
    let raw = tempfile::tempdir().expect("temporary directory");
    let db = Store::open(raw.path()).expect("store");
    for (key, value) in values {
        db.records().insert(key, value).expect("insert");
    }
    db.flush().expect("flush");
}
