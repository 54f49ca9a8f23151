//! The frontier alone (issue 13, benchmark c): URLS URLs over HOSTS hosts pushed, then popped
//! and done, through [`EmbeddedFrontier`] on disk, checkpointing every 100,000 operations as
//! a crawl would. Prints push and pop URLs/s, peak RSS (VmHWM) and disk bytes per URL.
//!
//! `cargo bench --bench frontier -- [URLS] [HOSTS]` (default 10,000,000 over 100,000). Not a
//! timed test: figures go to docs/frontier.md with the load at the time.

use std::path::Path;
use std::time::Instant;

use optout::crawl::frontier::{
    Candidate, EmbeddedFrontier, Frontier, FrontierOptions, Next, Pushed, Via,
};

const CHECKPOINT_EVERY: u64 = 100_000;

fn main() {
    // `cargo bench` passes `--bench`; the numbers are ours.
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let urls = numbers.first().copied().unwrap_or(10_000_000);
    let hosts = numbers.get(1).copied().unwrap_or(100_000).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let frontier = EmbeddedFrontier::open(dir.path(), FrontierOptions::default()).expect("open");
    println!(
        "frontier: {urls} URLs over {hosts} hosts in {}",
        dir.path().display()
    );

    let start = Instant::now();
    for i in 0..urls {
        let host = i % hosts;
        let page = i / hosts;
        let candidate = Candidate {
            url: format!(
                "https://host-{host}.example/section/{}/page-{page}.html",
                page % 97
            ),
            depth: 2,
            found_on: Some(format!(
                "https://host-{host}.example/section/index-{}.html",
                page / 50
            )),
            via: Via::Link,
            validators: None,
            redirects: 0,
        };
        assert_eq!(frontier.push(candidate).expect("push"), Pushed::Queued);
        if (i + 1).is_multiple_of(CHECKPOINT_EVERY) {
            frontier.checkpoint(&i.to_be_bytes()).expect("checkpoint");
        }
        if (i + 1).is_multiple_of((urls / 10).max(1)) {
            report("push", i + 1, start, dir.path());
        }
    }
    frontier.checkpoint(b"pushed").expect("checkpoint");
    let push_secs = start.elapsed().as_secs_f64();
    let disk_full = disk_bytes(dir.path());

    let start = Instant::now();
    let mut popped = 0u64;
    loop {
        let now = Instant::now();
        match frontier.next(now).expect("next") {
            Next::Ready(lease) => {
                frontier.done(lease, now).expect("done");
                popped += 1;
                if popped.is_multiple_of(CHECKPOINT_EVERY) {
                    frontier
                        .checkpoint(&popped.to_be_bytes())
                        .expect("checkpoint");
                }
                if popped.is_multiple_of((urls / 10).max(1)) {
                    report("pop", popped, start, dir.path());
                }
            }
            Next::Empty => break,
            other => panic!("every host is due at once, got {other:?}"),
        }
    }
    frontier.checkpoint(b"popped").expect("checkpoint");
    let pop_secs = start.elapsed().as_secs_f64();
    assert_eq!(popped, urls);

    println!(
        "push: {:.0} URLs/s ({push_secs:.1} s)",
        urls as f64 / push_secs
    );
    println!(
        "pop+done: {:.0} URLs/s ({pop_secs:.1} s)",
        urls as f64 / pop_secs
    );
    println!(
        "disk when all queued: {disk_full} bytes, {:.1} bytes/URL; after all done: {} bytes",
        disk_full as f64 / urls as f64,
        disk_bytes(dir.path())
    );
    println!("peak RSS (VmHWM): {} MiB", peak_rss_kib() / 1024);
}

fn report(phase: &str, n: u64, start: Instant, dir: &Path) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "  {phase} {n}: {:.0}/s, RSS peak {} MiB, disk {} MiB",
        n as f64 / secs,
        peak_rss_kib() / 1024,
        disk_bytes(dir) / (1024 * 1024)
    );
}

/// VmHWM of /proc/self/status, in KiB (0 where there is none).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes allocated on disk under `dir`, as `du` counts them.
fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}
