//! Evidence-log benchmark: records appended per second.
//!
//! Three benchmarks in the group `append`, each reporting `Throughput::Elements` (records):
//! - `group_commit`: [`Durability::default`] (flush every 50 ms or every 4096 records),
//!   appending [`GROUP_N`] records, then one `sync()`;
//! - `per_record`: `per_record: true` (a flush after every record), [`PER_RECORD_N`] records;
//! - `raw_sled_ceiling`: the same stored bytes the log wrote for the `group_commit` records
//!   (serialised once, before measuring), inserted under 8-byte big-endian keys into the
//!   records tree of a fresh store (`Store::open`), then one flush; [`GROUP_N`] records. This is
//!   what sled alone costs: the floor under any evidence-log implementation on sled.
//!
//! Every iteration gets a fresh store in a temporary directory; opening it and dropping it
//! (which joins the log's flusher thread and lets sled finish) are not timed. Records are
//! built before the clock starts, so the timed part is `append` (time stamp, JSON, canonical
//! form, SHA-256, the sled batch, flushes) and the final `sync()`.
//!
//! The records are `support/evidence_records.rs`'s realistic decision records (about 750
//! bytes stored); `examples/evidence_profile.rs` runs the same work under callgrind.
//!
//! Run with `cargo bench --bench evidence`. The summary printed at the end gives records/s
//! from criterion's medians and the ratio of group commit to the raw-sled ceiling.

#[path = "support/criterion_results.rs"]
mod criterion_results;
#[path = "support/evidence_records.rs"]
mod evidence_records;
use criterion::{Criterion, SamplingMode, Throughput};
use criterion_results::median_ns;
use evidence_records::records;
use optout::evidence::{Durability, EvidenceLog, Record};
use optout::store::{HEAD_KEY, Store};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Records per iteration in group-commit mode and in the raw-sled ceiling.
const GROUP_N: usize = 10_000;
/// Records per iteration in flush-per-record mode.
const PER_RECORD_N: usize = 200;

const GROUP: &str = "append";

/// The bytes the log stores for `records` (appended once to a scratch store, read back).
fn stored_bytes(records: &[Record]) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = open_log(dir.path(), Durability::default());
    for record in records {
        log.append(record.clone()).expect("append");
    }
    log.sync().expect("sync");
    let stored: Vec<Vec<u8>> = log
        .store()
        .records()
        .iter()
        .map(|kv| kv.expect("read back"))
        .filter(|(k, _)| k.as_ref() != HEAD_KEY)
        .map(|(_, v)| v.to_vec())
        .collect();
    assert_eq!(stored.len(), records.len());
    stored
}

fn open_log(path: &Path, durability: Durability) -> EvidenceLog {
    let store = Store::open(path).expect("open store");
    EvidenceLog::open(store, durability).expect("open evidence log")
}

/// Time to append `records` (cloned before the clock starts) to a fresh log, plus `sync()`.
fn time_appends(records: &[Record], durability: Durability) -> Duration {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = open_log(dir.path(), durability);
    let batch = records.to_vec();
    let start = Instant::now();
    for record in batch {
        log.append(record).expect("append");
    }
    log.sync().expect("sync");
    let elapsed = start.elapsed();
    drop(log);
    elapsed
}

/// Time to insert `stored` into the records tree of a fresh store (opened by
/// [`Store::open`], so with exactly the store's sled configuration) and flush.
fn time_raw_inserts(stored: &[Vec<u8>]) -> Duration {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open(dir.path()).expect("open store");
    let tree = store.records();
    let start = Instant::now();
    for (seq, bytes) in (1u64..).zip(stored) {
        tree.insert(seq.to_be_bytes(), bytes.as_slice())
            .expect("insert");
    }
    store.flush().expect("flush");
    let elapsed = start.elapsed();
    drop(store);
    elapsed
}

fn bench_append(c: &mut Criterion, group_records: &[Record], stored: &[Vec<u8>]) {
    let mut group = c.benchmark_group(GROUP);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(15));

    group.throughput(Throughput::Elements(GROUP_N as u64));
    group.bench_function("group_commit", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| time_appends(group_records, Durability::default()))
                .sum()
        })
    });
    group.bench_function("raw_sled_ceiling", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_raw_inserts(stored)).sum())
    });

    let per_record = Durability {
        per_record: true,
        ..Durability::default()
    };
    let few = &group_records[..PER_RECORD_N];
    group.throughput(Throughput::Elements(PER_RECORD_N as u64));
    group.bench_function("per_record", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_appends(few, per_record)).sum())
    });
    group.finish();
}

fn print_summary(since: SystemTime) {
    let rate = |id: &str, n: usize| median_ns(GROUP, id, since).map(|ns| n as f64 / (ns / 1e9));
    println!("\n== summary (criterion medians) ==");
    let group = rate("group_commit", GROUP_N);
    let raw = rate("raw_sled_ceiling", GROUP_N);
    for (id, n, r) in [
        ("group_commit", GROUP_N, group),
        ("per_record", PER_RECORD_N, rate("per_record", PER_RECORD_N)),
        ("raw_sled_ceiling", GROUP_N, raw),
    ] {
        if let Some(r) = r {
            println!("  {id:<18}{r:>12.0} records/s  ({n} records per iteration)");
        }
    }
    if let Some(g) = group {
        let verdict = if g >= 100_000.0 { "met" } else { "MISSED" };
        println!("  group commit >= 100000 records/s: {verdict}");
    }
    if let (Some(g), Some(r)) = (group, raw) {
        let verdict = if r / g <= 2.0 { "met" } else { "MISSED" };
        println!(
            "  raw ceiling / group commit: {:.2}x (target <= 2x: {verdict})",
            r / g
        );
    }
}

fn main() {
    let started = SystemTime::now();
    let group_records = records(GROUP_N);
    let stored = stored_bytes(&group_records);
    let total: usize = stored.iter().map(Vec::len).sum();
    let (min, max) = stored.iter().fold((usize::MAX, 0), |(lo, hi), s| {
        (lo.min(s.len()), hi.max(s.len()))
    });
    let urls: usize = group_records.iter().map(|r| r.url.len()).sum();
    println!(
        "records: {GROUP_N}, stored JSON {min}..{max} bytes (mean {}), URL mean {} bytes",
        total / stored.len(),
        urls / group_records.len()
    );
    println!(
        "example: {}",
        String::from_utf8_lossy(stored.last().expect("records"))
    );

    let mut criterion = Criterion::default().configure_from_args();
    bench_append(&mut criterion, &group_records, &stored);
    criterion.final_summary();
    print_summary(started);
}
