//! What only the inside can set up: a crash between a checkpoint's commit and its
//! application, and damaged files.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::frontier::redo;

fn open(dir: &Path) -> EmbeddedFrontier {
    EmbeddedFrontier::open(dir, FrontierOptions::default()).expect("frontier opens")
}

/// Runs a frontier call to its end (the tests here are synchronous).
fn wait<F: std::future::Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    runtime.expect("a runtime").block_on(future)
}

fn push(f: &EmbeddedFrontier, url: &str) {
    assert_eq!(wait(f.push(Candidate::seed(url))).unwrap(), Pushed::Queued);
}

/// Leases and finishes everything, at most `limit` URLs; the URLs in order.
fn drain(f: &EmbeddedFrontier, limit: usize) -> Result<Vec<String>, FrontierError> {
    let claim = Claim::hosts("test", 1, Duration::from_secs(60));
    let mut urls = Vec::new();
    while urls.len() < limit {
        match wait(f.claim(&claim))? {
            Claimed::Leases(leases) => {
                for lease in leases {
                    for url in &lease.urls {
                        urls.push(url.candidate.url.clone());
                        wait(f.ack(&lease.id, url.id, Acked::Done))?;
                    }
                    wait(f.release(&lease.id, Duration::ZERO))?;
                }
            }
            _ => break,
        }
    }
    Ok(urls)
}

/// Commits a checkpoint's redo log and "crashes" before applying it.
fn commit_without_applying(f: &EmbeddedFrontier, meta: &[u8]) {
    let inner = f.lock();
    inner.store.queue.sync().unwrap();
    redo::write(&inner.store.dir, inner.checkpoint_ops(meta).into_iter()).unwrap();
}

#[test]
fn a_checkpoint_committed_but_not_applied_is_applied_on_opening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let f = open(dir.path());
        for i in 0..5 {
            push(&f, &format!("http://a.test/{i}"));
        }
        push(&f, "http://b.test/");
        wait(f.checkpoint(b"first")).unwrap();
        assert!(wait(f.mark_done("http://a.test/3")).unwrap());
        assert_eq!(drain(&f, 1).unwrap(), ["http://a.test/0"]);
        push(&f, "http://c.test/");
        commit_without_applying(&f, b"second");
    }
    // The log is applied on opening; a copy of it applied once more changes nothing.
    let log = dir.path().join(redo::FILE);
    let copy = std::fs::read(&log).unwrap();
    drop(open(dir.path()));
    assert!(!log.exists());
    std::fs::write(&log, copy).unwrap();
    let f = open(dir.path());
    assert_eq!(
        wait(f.checkpoint_meta()).unwrap().as_deref(),
        Some(&b"second"[..])
    );
    let stats = wait(f.stats()).unwrap();
    assert_eq!((stats.queued, stats.done, stats.seen), (5, 2, 7));
    let left: BTreeSet<String> = drain(&f, 100).unwrap().into_iter().collect();
    let expected = ["a.test/1", "a.test/2", "a.test/4", "b.test/", "c.test/"];
    let expected: BTreeSet<String> = expected.iter().map(|u| format!("http://{u}")).collect();
    assert_eq!(left, expected);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Damaged files give an error or some state, never a panic or a hang.
    #[test]
    fn damaged_files_are_errors_not_panics(
        file in 0..5usize,
        at in any::<u16>(),
        bytes in proptest::collection::vec(any::<u8>(), 1..16),
    ) {
        let dir = tempfile::tempdir().unwrap();
        {
            let f = open(dir.path());
            for i in 0..40 {
                push(&f, &format!("http://h{}.test/{i}", i % 3));
            }
            wait(f.mark_done("http://h1.test/4")).unwrap();
            wait(f.checkpoint(b"meta")).unwrap();
        }
        let name = ["queue.log", "hosts.table", "hosts.names", "frontier.state", "seen.table"][file];
        let path = dir.path().join(name);
        let mut content = std::fs::read(&path).unwrap();
        let at = usize::from(at) % content.len();
        let end = (at + bytes.len()).min(content.len());
        content[at..end].copy_from_slice(&bytes[..end - at]);
        std::fs::write(&path, content).unwrap();
        // Each URL handed out is a record of its own: links only go forward.
        let records = std::fs::metadata(dir.path().join("queue.log")).unwrap().len() / 13;
        if let Ok(f) = EmbeddedFrontier::open(dir.path(), FrontierOptions::default()) {
            let _ = wait(f.push(Candidate::seed("http://h0.test/new")));
            let _ = wait(f.mark_done("http://h2.test/5"));
            let _ = wait(f.give_up("h2.test"));
            let _ = wait(f.stats());
            if let Ok(urls) = drain(&f, 1000) {
                prop_assert!(urls.len() as u64 <= records);
            }
            let _ = wait(f.checkpoint(b"again"));
        }
    }
}
