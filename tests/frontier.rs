//! The embedded frontier on a real sled directory: de-duplication, budgets, scheduling,
//! drop_host, mark_done, and what opening after a crash (a drop without checkpoint) gives.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use optout::crawl::frontier::{
    Candidate, DROP_BATCH, EmbeddedFrontier, Frontier, FrontierError, FrontierOptions, Lease, Next,
    Pushed, Validators, Via,
};

fn open(dir: &Path) -> EmbeddedFrontier {
    EmbeddedFrontier::open(dir, FrontierOptions::default()).expect("frontier opens")
}

fn push(f: &EmbeddedFrontier, url: &str) -> Pushed {
    f.push(Candidate::seed(url)).expect("push")
}

fn lease(f: &EmbeddedFrontier, now: Instant) -> Lease {
    match f.next(now).expect("next") {
        Next::Ready(lease) => lease,
        other => panic!("expected a URL, got {other:?}"),
    }
}

#[test]
fn urls_are_deduplicated_by_canonical_key_and_requested_as_found() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path());
    assert_eq!(
        push(&f, "HTTP://Example.COM:80/a%7e/%3a?b=1&a=2#top"),
        Pushed::Queued
    );
    assert_eq!(push(&f, "http://example.com/a~/%3A?b=1&a=2"), Pushed::Seen);
    assert_eq!(
        push(&f, "http://example.com/a~/%3A?a=2&b=1"),
        Pushed::Queued,
        "query order kept"
    );
    assert_eq!(
        push(&f, "https://example.com/a~/%3A?b=1&a=2"),
        Pushed::Queued,
        "scheme kept"
    );
    for bad in [
        "ftp://example.com/",
        "mailto:a@example.com",
        "not a url",
        "data:text/plain,x",
    ] {
        assert!(matches!(push(&f, bad), Pushed::Unqueueable(_)), "{bad}");
    }
    let first = lease(&f, Instant::now());
    assert_eq!(first.host, "example.com");
    assert_eq!(
        first.candidate.url,
        "HTTP://Example.COM:80/a%7e/%3a?b=1&a=2#top"
    );
    assert_eq!(f.stats().seen, 3);
}

#[test]
fn a_host_budget_counts_accepted_urls_and_ports_share_a_host() {
    let dir = tempfile::tempdir().unwrap();
    let options = FrontierOptions {
        max_pages_per_host: Some(2),
        ..FrontierOptions::default()
    };
    let f = EmbeddedFrontier::open(dir.path(), options).unwrap();
    assert_eq!(push(&f, "http://big.test/1"), Pushed::Queued);
    assert_eq!(push(&f, "http://big.test/1"), Pushed::Seen);
    assert_eq!(push(&f, "https://BIG.test.:8443/2"), Pushed::Queued);
    assert_eq!(push(&f, "http://big.test/3"), Pushed::OverHostBudget);
    assert_eq!(push(&f, "http://big.test/3"), Pushed::Seen, "reported once");
    assert_eq!(push(&f, "http://small.test/1"), Pushed::Queued);
    // Done URLs still count: the budget is of pages accepted, not pages waiting.
    let now = Instant::now();
    while let Next::Ready(l) = f.next(now).unwrap() {
        f.done(l, now).unwrap();
    }
    assert_eq!(push(&f, "http://big.test/4"), Pushed::OverHostBudget);
    assert_eq!(f.stats().hosts, 2);
}

#[test]
fn a_backing_off_host_never_delays_another_and_each_host_has_one_lease() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path());
    for i in 0..3 {
        push(&f, &format!("http://slow.test/{i}"));
        push(&f, &format!("http://fast.test/{i}"));
    }
    let t0 = Instant::now();
    let a = lease(&f, t0);
    let b = lease(&f, t0);
    assert_ne!(a.host, b.host, "one lease per host");
    assert_eq!(f.next(t0).unwrap(), Next::Busy);
    let (slow, fast) = if a.host == "slow.test" {
        (a, b)
    } else {
        (b, a)
    };
    f.done(slow, t0 + Duration::from_secs(3600)).unwrap();
    assert_eq!(
        f.next(t0).unwrap(),
        Next::Wait(Duration::from_secs(3600)),
        "fast is out, slow backs off"
    );
    f.done(fast, t0 + Duration::from_millis(50)).unwrap();
    assert_eq!(f.next(t0).unwrap(), Next::Wait(Duration::from_millis(50)));
    let stats = f.stats();
    assert_eq!(
        (stats.queued, stats.leased, stats.done, stats.hosts_waiting),
        (4, 0, 2, 2)
    );
    let t1 = t0 + Duration::from_millis(50);
    for i in 1..3 {
        let next = lease(&f, t1);
        assert_eq!(
            next.candidate.url,
            format!("http://fast.test/{i}"),
            "FIFO within a host"
        );
        f.done(next, t1).unwrap();
    }
    assert_eq!(
        f.next(t1).unwrap(),
        Next::Wait(Duration::from_secs(3600) - Duration::from_millis(50))
    );
    let late = t0 + Duration::from_secs(3600);
    for i in 1..3 {
        let next = lease(&f, late);
        assert_eq!(next.candidate.url, format!("http://slow.test/{i}"));
        f.done(next, late).unwrap();
    }
    assert_eq!(f.next(late).unwrap(), Next::Empty);
}

#[test]
fn a_lease_is_given_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path());
    push(&f, "http://a.test/");
    let now = Instant::now();
    let l = lease(&f, now);
    f.done(l.clone(), now).unwrap();
    assert!(matches!(
        f.done(l, now),
        Err(FrontierError::UnknownLease { .. })
    ));
}

#[test]
fn opening_after_a_crash_gives_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    {
        let f = open(dir.path());
        assert_eq!(f.checkpoint_meta().unwrap(), None);
        push(&f, "http://a.test/1");
        push(&f, "http://a.test/2");
        let first = lease(&f, now);
        f.done(first, now).unwrap();
        push(&f, "http://b.test/1");
        f.checkpoint(b"warc at 100").unwrap();
        assert_eq!(
            f.checkpoint_meta().unwrap().as_deref(),
            Some(&b"warc at 100"[..])
        );
        // After the checkpoint: a.test/2 leased (in flight at the kill), c.test pushed.
        let in_flight = lease(&f, now);
        assert_eq!(push(&f, "http://c.test/1"), Pushed::Queued);
        let other = lease(&f, now);
        f.done(other, now).unwrap();
        drop(in_flight);
    } // dropped without checkpoint: a crash, as far as the frontier knows
    let f = open(dir.path());
    assert_eq!(
        f.checkpoint_meta().unwrap().as_deref(),
        Some(&b"warc at 100"[..])
    );
    let stats = f.stats();
    assert_eq!(
        (stats.queued, stats.leased, stats.done, stats.seen),
        (2, 0, 1, 3)
    );
    assert_eq!(
        push(&f, "http://a.test/1"),
        Pushed::Seen,
        "done before the checkpoint"
    );
    assert_eq!(
        push(&f, "http://c.test/1"),
        Pushed::Queued,
        "pushed after it: lost"
    );
    let mut urls = BTreeSet::new();
    while let Next::Ready(l) = f.next(now).unwrap() {
        urls.insert(l.candidate.url.clone());
        f.done(l, now).unwrap();
    }
    let expected = ["http://a.test/2", "http://b.test/1", "http://c.test/1"];
    assert_eq!(urls, expected.iter().map(|s| s.to_string()).collect());
}

#[test]
fn candidates_survive_a_checkpoint_whole() {
    let dir = tempfile::tempdir().unwrap();
    let candidate = Candidate {
        url: "https://a.test/page?x=1".into(),
        depth: 4,
        found_on: Some("https://a.test/".into()),
        via: Via::Sitemap,
        validators: Some(Validators {
            etag: Some("\"v1\"".into()),
            last_modified: None,
        }),
        redirects: 3,
    };
    {
        let f = open(dir.path());
        f.push(candidate.clone()).unwrap();
        f.checkpoint(b"").unwrap();
    }
    let f = open(dir.path());
    assert_eq!(f.checkpoint_meta().unwrap(), Some(Vec::new()));
    assert_eq!(lease(&f, Instant::now()).candidate, candidate);
}

#[test]
fn drop_host_gives_back_its_queue_in_batches_and_keeps_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path());
    let total = DROP_BATCH + 10;
    for i in 0..total {
        push(&f, &format!("http://gone.test/{i}"));
    }
    let now = Instant::now();
    let far = now + Duration::from_secs(60);
    let out = lease(&f, now);
    push(&f, "http://kept.test/");
    assert_eq!(out.candidate.url, "http://gone.test/0");
    f.checkpoint(b"mid").unwrap();
    let first = f.drop_host("GONE.test.").unwrap();
    assert_eq!(first.len(), DROP_BATCH);
    assert_eq!(
        first[0].url, "http://gone.test/1",
        "FIFO, the leased URL stays out"
    );
    let second = f.drop_host("gone.test").unwrap();
    assert_eq!(second.len(), total - 1 - DROP_BATCH);
    assert_eq!(
        second.last().unwrap().url,
        format!("http://gone.test/{}", total - 1)
    );
    assert!(f.drop_host("gone.test").unwrap().is_empty());
    assert!(f.drop_host("never.test").unwrap().is_empty());
    assert_eq!(
        push(&f, "http://gone.test/5"),
        Pushed::Seen,
        "dropped URLs stay seen"
    );
    f.done(out, now).unwrap();
    let stats = f.stats();
    assert_eq!(
        (stats.queued, stats.leased, stats.done, stats.hosts),
        (1, 0, 1, 2)
    );
    f.checkpoint(b"dropped").unwrap();
    drop(f);
    let f = open(dir.path());
    let mut left = Vec::new();
    while let Next::Ready(l) = f.next(far).unwrap() {
        left.push(l.candidate.url.clone());
        f.done(l, far).unwrap();
    }
    assert_eq!(left, ["http://kept.test/"]);
}

#[test]
fn mark_done_finishes_pending_urls_and_remembers_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path());
    push(&f, "http://a.test/1");
    push(&f, "http://a.test/2");
    assert!(f.mark_done("http://A.test/1#x").unwrap(), "pending");
    assert!(!f.mark_done("http://a.test/1").unwrap(), "done already");
    assert!(
        !f.mark_done("http://a.test/fetched-after-checkpoint")
            .unwrap(),
        "never seen"
    );
    assert_eq!(
        push(&f, "http://a.test/fetched-after-checkpoint"),
        Pushed::Seen
    );
    assert!(!f.mark_done("not a url").unwrap());
    let now = Instant::now();
    let l = lease(&f, now);
    assert_eq!(l.candidate.url, "http://a.test/2");
    assert!(
        f.mark_done("http://a.test/2").unwrap(),
        "in flight is pending"
    );
    f.done(l, now).unwrap();
    assert_eq!(f.next(now).unwrap(), Next::Empty);
    assert_eq!(f.stats().done, 2);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path());
    let second = EmbeddedFrontier::open(dir.path(), FrontierOptions::default());
    assert!(
        matches!(second, Err(FrontierError::Locked(_))),
        "{:?}",
        second.err()
    );
}

/// `seen` answers by canonical key, changes nothing, and forgets what no checkpoint kept.
#[test]
fn seen_is_a_question_by_canonical_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = open(dir.path());
    assert_eq!(push(&f, "http://A.example/%7Ea#x"), Pushed::Queued);
    assert!(f.seen("http://a.example/~a").unwrap());
    assert!(!f.seen("http://a.example/b").unwrap());
    assert!(!f.seen("not a url").unwrap());
    assert_eq!(
        push(&f, "http://a.example/b"),
        Pushed::Queued,
        "seen changed nothing"
    );
    drop(f);
    let f = open(dir.path());
    assert!(!f.seen("http://a.example/~a").unwrap());
}
