//! Evidence-log benchmark: records appended per second.
//!
//! Four benchmarks in the group `append`, each reporting `Throughput::Elements` (records):
//! - `group_commit`: [`Durability::default`] (flush every 50 ms or every 4096 records),
//!   appending [`GROUP_N`] records, then one `sync()`;
//! - `per_record`: `per_record: true` (a flush after every record), [`PER_RECORD_N`] records;
//! - `raw_sled_ceiling`: the same stored bytes the log wrote for the `group_commit` records
//!   (serialised once, before measuring), one `insert` per record under 8-byte big-endian
//!   keys into the records tree of a fresh store (`Store::open`), then one flush; [`GROUP_N`]
//!   records. This is what sled alone costs for one record a value (store schema 1);
//! - `raw_sled_block_ceiling`: the same bytes cut into blocks as the log cuts them (up to
//!   [`BLOCK`] records or [`BLOCK_BYTES`] bytes, records joined by newlines: store schema 2),
//!   one `insert` per block under its first record's key, then one flush. This is what sled
//!   alone costs for the layout the log uses: the floor under the log as it is.
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
//! from criterion's medians, group commit against the 100,000 records/s target, and each
//! ceiling's ratio to group commit (target: within 2×).

#[path = "support/criterion_results.rs"]
mod criterion_results;
#[path = "support/evidence_records.rs"]
mod evidence_records;
use criterion::{Criterion, SamplingMode, Throughput};
use criterion_results::median_ns;
use evidence_records::records;
use optout::evidence::{BLOCK, BLOCK_BYTES, Durability, EvidenceLog, Record, block};
use optout::store::{Sled, Store};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Records per iteration in group-commit mode and in the raw-sled ceiling.
const GROUP_N: usize = 10_000;
/// Records per iteration in flush-per-record mode.
const PER_RECORD_N: usize = 200;

const GROUP: &str = "append";

/// The bytes the log stores for each of `records` (appended once to a scratch store, read
/// back record by record).
fn stored_bytes(records: &[Record]) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = open_log(dir.path(), Durability::default());
    for record in records {
        log.append(record.clone()).expect("append");
    }
    log.sync().expect("sync");
    let stored: Vec<Vec<u8>> = block::records(log.store())
        .map(|entry| entry.expect("read back").bytes().to_vec())
        .collect();
    assert_eq!(stored.len(), records.len());
    stored
}

/// `stored` as sled values: one a record, keyed by sequence number.
fn one_per_key(stored: &[Vec<u8>]) -> Vec<(u64, Vec<u8>)> {
    (1u64..).zip(stored.iter().cloned()).collect()
}

/// `stored` as sled values: blocks as the writer cuts them when no sync falls between (up to
/// [`BLOCK`] records or [`BLOCK_BYTES`] bytes, records joined by newlines), each keyed by its
/// first record's sequence number.
fn in_blocks(stored: &[Vec<u8>]) -> Vec<(u64, Vec<u8>)> {
    block::pack(1, stored.iter().map(Vec::as_slice))
        .into_iter()
        .map(|(key, value)| (u64::from_be_bytes(key), value))
        .collect()
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

/// Time to insert `values` (key, bytes) into the records tree of a fresh store (opened by
/// [`Store::open`], so with exactly the store's sled configuration), one `insert` each, and
/// flush.
fn time_raw_inserts(values: &[(u64, Vec<u8>)]) -> Duration {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open(dir.path()).expect("open store");
    let tree = store.records();
    let start = Instant::now();
    for (key, bytes) in values {
        tree.insert(key.to_be_bytes(), bytes.as_slice())
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
    let (single, blocks) = (one_per_key(stored), in_blocks(stored));
    group.bench_function("raw_sled_ceiling", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_raw_inserts(&single)).sum())
    });
    group.bench_function("raw_sled_block_ceiling", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_raw_inserts(&blocks)).sum())
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
    let ceilings = [
        ("raw_sled_ceiling", "one record a value"),
        ("raw_sled_block_ceiling", "blocks, as the log stores them"),
    ]
    .map(|(id, what)| (id, what, rate(id, GROUP_N)));
    for (id, n, r) in [
        ("group_commit", GROUP_N, group),
        ("per_record", PER_RECORD_N, rate("per_record", PER_RECORD_N)),
    ]
    .into_iter()
    .chain(ceilings.map(|(id, _, r)| (id, GROUP_N, r)))
    {
        if let Some(r) = r {
            println!("  {id:<24}{r:>12.0} records/s  ({n} records per iteration)");
        }
    }
    println!("  (blocks of up to {BLOCK} records or {BLOCK_BYTES} bytes)");
    if let Some(g) = group {
        let verdict = if g >= 100_000.0 { "met" } else { "MISSED" };
        println!(
            "  group commit {g:.0} records/s vs the 100000 target: {verdict} ({:.2}x the target)",
            g / 100_000.0
        );
    }
    for (id, what, r) in ceilings {
        if let (Some(g), Some(r)) = (group, r) {
            let verdict = if r / g <= 2.0 { "met" } else { "MISSED" };
            println!(
                "  {id} ({what}) / group commit: {:.2}x (target <= 2x: {verdict})",
                r / g
            );
        }
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
    let blocks = in_blocks(&stored).len();
    println!(
        "blocks: {blocks} (mean {:.1} records, up to {BLOCK} records or {BLOCK_BYTES} bytes)",
        GROUP_N as f64 / blocks as f64
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
