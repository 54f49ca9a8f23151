//! The frontier alone (issue 13, benchmark c): URLS URLs over HOSTS hosts pushed, then
//! claimed (one URL per host lease, as the crawl claims), acknowledged and released, through
//! [`EmbeddedFrontier`] on disk behind the async `Frontier` trait, checkpointing every
//! 100,000 operations as a crawl would. Prints push and pop URLs/s, peak RSS (VmHWM) and disk
//! bytes per URL.
//!
//! `cargo bench --bench frontier -- [URLS] [HOSTS]` (default 10,000,000 over 100,000). Not a
//! timed test: figures go to docs/frontier.md with the load at the time.

use std::path::Path;
use std::time::{Duration, Instant};

use optout::crawl::frontier::{
    Acked, Candidate, Claim, Claimed, EmbeddedFrontier, Frontier, FrontierOptions, Pushed, Via,
};

const CHECKPOINT_EVERY: u64 = 100_000;

/// Hosts claimed at once: the crawl's default `politeness.max_in_flight`.
const CLAIM_HOSTS: usize = 256;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
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
        assert_eq!(
            frontier.push(candidate).await.expect("push"),
            Pushed::Queued
        );
        if (i + 1).is_multiple_of(CHECKPOINT_EVERY) {
            frontier
                .checkpoint(&i.to_be_bytes())
                .await
                .expect("checkpoint");
        }
        if (i + 1).is_multiple_of((urls / 10).max(1)) {
            report("push", i + 1, start, dir.path());
        }
    }
    frontier.checkpoint(b"pushed").await.expect("checkpoint");
    let push_secs = start.elapsed().as_secs_f64();
    let disk_full = disk_bytes(dir.path());

    let start = Instant::now();
    let mut popped = 0u64;
    let claim = Claim::hosts("bench", CLAIM_HOSTS, Duration::from_secs(600));
    loop {
        let leases = match frontier.claim(&claim).await.expect("claim") {
            Claimed::Leases(leases) => leases,
            Claimed::Empty => break,
            other => panic!("every host is due at once, got {other:?}"),
        };
        for lease in leases {
            for url in &lease.urls {
                let acked = frontier.ack(&lease.id, url.id, Acked::Done).await;
                acked.expect("ack");
                popped += 1;
                if popped.is_multiple_of(CHECKPOINT_EVERY) {
                    frontier
                        .checkpoint(&popped.to_be_bytes())
                        .await
                        .expect("checkpoint");
                }
                if popped.is_multiple_of((urls / 10).max(1)) {
                    report("pop", popped, start, dir.path());
                }
            }
            let released = frontier.release(&lease.id, Duration::ZERO).await;
            released.expect("release");
        }
    }
    frontier.checkpoint(b"popped").await.expect("checkpoint");
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
