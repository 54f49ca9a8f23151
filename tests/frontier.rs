//! The embedded frontier on a real directory: de-duplication, budgets, scheduling, host
//! leases (several hosts, several URLs, expiry, renewal, fencing), blocks, host health,
//! give up, mark_done, the politeness key, and what opening after a crash (a drop without
//! checkpoint) gives. Time is a manual wall clock: leases lapse without anyone sleeping.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use optout::config::HostKey;
use optout::crawl::frontier::{
    Acked, Candidate, Claim, Claimed, DROP_BATCH, EmbeddedFrontier, Frontier, FrontierError,
    FrontierOptions, HostLease, Pushed, Stale, UnixMillis, Validators, Via, WallClock,
};

const T0: UnixMillis = UnixMillis(1_700_000_000_000);
const LEASE: Duration = Duration::from_secs(60);

fn open_with(dir: &Path, clock: &WallClock) -> EmbeddedFrontier {
    let options = FrontierOptions {
        clock: clock.clone(),
        ..FrontierOptions::default()
    };
    EmbeddedFrontier::open(dir, options).expect("frontier opens")
}

fn open(dir: &Path) -> (EmbeddedFrontier, WallClock) {
    let clock = WallClock::manual(T0);
    (open_with(dir, &clock), clock)
}

async fn push(f: &EmbeddedFrontier, url: &str) -> Pushed {
    f.push(Candidate::seed(url)).await.expect("push")
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One host due now, one URL, for `owner`.
async fn claim_one(f: &EmbeddedFrontier) -> HostLease {
    match f.claim(&Claim::hosts("w1", 1, LEASE)).await.expect("claim") {
        Claimed::Leases(mut leases) => leases.remove(0),
        other => panic!("expected a lease, got {other:?}"),
    }
}

/// Acknowledges every URL of `lease` and releases its host, due `after` from now.
async fn finish(f: &EmbeddedFrontier, lease: &HostLease, after: Duration) {
    for url in &lease.urls {
        f.ack(&lease.id, url.id, Acked::Done).await.expect("ack");
    }
    f.release(&lease.id, after).await.expect("release");
}

/// Claims, acknowledges and releases everything due by `ahead`; the URLs handed out.
async fn drain(f: &EmbeddedFrontier, ahead: Duration) -> Vec<String> {
    let claim = Claim {
        ahead,
        ..Claim::hosts("drain", 1, LEASE)
    };
    let mut urls = Vec::new();
    while let Claimed::Leases(leases) = f.claim(&claim).await.unwrap() {
        for lease in leases {
            urls.extend(lease.urls.iter().map(|u| u.candidate.url.clone()));
            finish(f, &lease, Duration::ZERO).await;
        }
    }
    urls
}

fn stale(result: Result<impl std::fmt::Debug, FrontierError>) -> Stale {
    match result {
        Err(FrontierError::StaleLease { why, .. }) => why,
        other => panic!("expected a stale lease, got {other:?}"),
    }
}

#[tokio::test]
async fn urls_are_deduplicated_by_canonical_key_and_requested_as_found() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = open(dir.path());
    assert_eq!(
        push(&f, "HTTP://Example.COM:80/a%7e/%3a?b=1&a=2#top").await,
        Pushed::Queued
    );
    assert_eq!(
        push(&f, "http://example.com/a~/%3A?b=1&a=2").await,
        Pushed::Seen
    );
    assert_eq!(
        push(&f, "http://example.com/a~/%3A?a=2&b=1").await,
        Pushed::Queued,
        "query order kept"
    );
    assert_eq!(
        push(&f, "https://example.com/a~/%3A?b=1&a=2").await,
        Pushed::Queued,
        "scheme kept"
    );
    for bad in [
        "ftp://example.com/",
        "mailto:a@example.com",
        "not a url",
        "data:text/plain,x",
    ] {
        assert!(
            matches!(push(&f, bad).await, Pushed::Unqueueable(_)),
            "{bad}"
        );
    }
    let first = claim_one(&f).await;
    assert_eq!(first.id.key, "example.com");
    assert_eq!(first.id.owner, "w1");
    assert_eq!(first.expires, T0.after(LEASE));
    assert_eq!(
        first.urls[0].candidate.url,
        "HTTP://Example.COM:80/a%7e/%3a?b=1&a=2#top"
    );
    assert_eq!(f.stats().await.unwrap().seen, 3);
}

#[tokio::test]
async fn a_host_budget_counts_accepted_urls_and_ports_share_a_host() {
    let dir = tempfile::tempdir().unwrap();
    let options = FrontierOptions {
        max_pages_per_host: Some(2),
        ..FrontierOptions::default()
    };
    let f = EmbeddedFrontier::open(dir.path(), options).unwrap();
    assert_eq!(push(&f, "http://big.test/1").await, Pushed::Queued);
    assert_eq!(push(&f, "http://big.test/1").await, Pushed::Seen);
    assert_eq!(push(&f, "https://BIG.test.:8443/2").await, Pushed::Queued);
    assert_eq!(push(&f, "http://big.test/3").await, Pushed::OverHostBudget);
    assert_eq!(
        push(&f, "http://big.test/3").await,
        Pushed::Seen,
        "reported once"
    );
    assert_eq!(push(&f, "http://small.test/1").await, Pushed::Queued);
    // Done URLs still count: the budget is of pages accepted, not pages waiting.
    assert_eq!(drain(&f, Duration::ZERO).await.len(), 3);
    assert_eq!(push(&f, "http://big.test/4").await, Pushed::OverHostBudget);
    assert_eq!(f.stats().await.unwrap().hosts, 2);
}

#[tokio::test]
async fn a_backing_off_host_never_delays_another_and_each_host_has_one_lease() {
    let dir = tempfile::tempdir().unwrap();
    let (f, clock) = open(dir.path());
    for i in 0..3 {
        push(&f, &format!("http://slow.test/{i}")).await;
        push(&f, &format!("http://fast.test/{i}")).await;
    }
    let Claimed::Leases(leases) = f.claim(&Claim::hosts("w1", 8, LEASE)).await.unwrap() else {
        panic!("two hosts are due")
    };
    assert_eq!(leases.len(), 2, "one lease per host, several hosts at once");
    assert_ne!(leases[0].id.key, leases[1].id.key);
    assert_ne!(leases[0].id.epoch, leases[1].id.epoch);
    let claim = Claim::hosts("w2", 8, LEASE);
    assert_eq!(f.claim(&claim).await.unwrap(), Claimed::Busy);
    let (slow, fast) = if leases[0].id.key == "slow.test" {
        (&leases[0], &leases[1])
    } else {
        (&leases[1], &leases[0])
    };
    finish(&f, slow, Duration::from_secs(3600)).await;
    assert_eq!(
        f.claim(&claim).await.unwrap(),
        Claimed::Wait(Duration::from_secs(3600)),
        "fast is out, slow backs off"
    );
    finish(&f, fast, ms(50)).await;
    assert_eq!(f.claim(&claim).await.unwrap(), Claimed::Wait(ms(50)));
    let stats = f.stats().await.unwrap();
    assert_eq!(
        (stats.queued, stats.leased, stats.done, stats.hosts_waiting),
        (4, 0, 2, 2)
    );
    clock.advance(ms(50));
    for i in 1..3 {
        let next = claim_one(&f).await;
        assert_eq!(
            next.urls[0].candidate.url,
            format!("http://fast.test/{i}"),
            "FIFO within a host"
        );
        finish(&f, &next, Duration::ZERO).await;
    }
    assert_eq!(
        f.claim(&claim).await.unwrap(),
        Claimed::Wait(Duration::from_secs(3600) - ms(50))
    );
    clock.advance(Duration::from_secs(3600));
    let left = drain(&f, Duration::ZERO).await;
    assert_eq!(left, ["http://slow.test/1", "http://slow.test/2"]);
    assert_eq!(f.claim(&claim).await.unwrap(), Claimed::Empty);
}

#[tokio::test]
async fn a_lease_carries_several_urls_acknowledged_one_by_one_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = open(dir.path());
    for i in 0..5 {
        push(&f, &format!("http://a.test/{i}")).await;
    }
    let claim = Claim {
        max_urls_per_host: 3,
        ..Claim::hosts("w1", 1, LEASE)
    };
    let Claimed::Leases(leases) = f.claim(&claim).await.unwrap() else {
        panic!("a is due")
    };
    let lease = &leases[0];
    let urls: Vec<&str> = lease
        .urls
        .iter()
        .map(|u| u.candidate.url.as_str())
        .collect();
    assert_eq!(
        urls,
        ["http://a.test/0", "http://a.test/1", "http://a.test/2"]
    );
    // The second first, then the first; the third is never acknowledged.
    f.ack(&lease.id, lease.urls[1].id, Acked::Failed)
        .await
        .unwrap();
    f.ack(&lease.id, lease.urls[0].id, Acked::Done)
        .await
        .unwrap();
    assert!(matches!(
        f.ack(&lease.id, lease.urls[0].id, Acked::Done).await,
        Err(FrontierError::NotInLease { .. })
    ));
    let stats = f.stats().await.unwrap();
    assert_eq!((stats.leased, stats.queued, stats.done), (1, 2, 2));
    f.release(&lease.id, Duration::ZERO).await.unwrap();
    assert!(
        !f.mark_done("http://a.test/1").await.unwrap(),
        "acknowledged is done"
    );
    f.checkpoint(b"acked").await.unwrap();
    drop(f);
    let (f, _) = open(dir.path());
    let left = drain(&f, Duration::ZERO).await;
    assert_eq!(
        left,
        ["http://a.test/2", "http://a.test/3", "http://a.test/4"]
    );
}

/// Fencing: a lease that lapsed, or whose host was claimed again, can neither acknowledge,
/// release nor renew; the host's URLs not acknowledged go to the next holder.
#[tokio::test]
async fn a_stale_lease_is_refused_and_its_host_goes_to_the_next_owner() {
    let dir = tempfile::tempdir().unwrap();
    let (f, clock) = open(dir.path());
    push(&f, "http://a.test/1").await;
    push(&f, "http://a.test/2").await;
    let first = claim_one(&f).await;
    clock.advance(LEASE / 2);
    let renewed = f.renew(&first.id, LEASE).await.unwrap();
    assert_eq!(renewed, T0.after(LEASE / 2).after(LEASE));
    clock.advance(LEASE / 2 + ms(1));
    assert_eq!(
        f.claim(&Claim::hosts("w2", 1, LEASE)).await.unwrap(),
        Claimed::Busy,
        "renewed: still held"
    );
    clock.advance(LEASE);
    let url = first.urls[0].id;
    assert_eq!(
        stale(f.ack(&first.id, url, Acked::Done).await),
        Stale::Expired
    );
    let Claimed::Leases(second) = f.claim(&Claim::hosts("w2", 1, LEASE)).await.unwrap() else {
        panic!("the lapsed host is claimable")
    };
    let second = &second[0];
    assert_eq!(second.id.owner, "w2");
    assert!(second.id.epoch > first.id.epoch);
    assert_eq!(
        second.urls[0].candidate.url, "http://a.test/1",
        "not acknowledged: handed out again"
    );
    for refused in [
        f.ack(&first.id, url, Acked::Done).await,
        f.release(&first.id, Duration::ZERO).await,
        f.renew(&first.id, LEASE).await.map(drop),
    ] {
        assert_eq!(stale(refused), Stale::NotHeld);
    }
    let forged = optout::crawl::frontier::LeaseId {
        owner: "w1".into(),
        ..second.id.clone()
    };
    assert_eq!(
        stale(f.release(&forged, Duration::ZERO).await),
        Stale::NotHeld
    );
    finish(&f, second, Duration::ZERO).await;
    assert_eq!(
        stale(f.release(&second.id, Duration::ZERO).await),
        Stale::NotHeld
    );
    assert_eq!(drain(&f, Duration::ZERO).await, ["http://a.test/2"]);
}

/// RFC 9110 §10.2.3: a `Retry-After` told to the frontier holds the host until then, even
/// when its lease is released earlier, and a shorter one never shortens it.
#[tokio::test]
async fn block_until_holds_a_host_past_its_release() {
    let dir = tempfile::tempdir().unwrap();
    let (f, clock) = open(dir.path());
    push(&f, "http://a.test/1").await;
    push(&f, "http://a.test/2").await;
    push(&f, "http://b.test/1").await;
    f.block_until("b.test", T0.after(ms(500)), "Retry-After")
        .await
        .unwrap();
    let a = claim_one(&f).await;
    assert_eq!(a.id.key, "a.test", "b is blocked");
    f.block_until("a.test", T0.after(ms(2000)), "Retry-After")
        .await
        .unwrap();
    f.block_until("a.test", T0.after(ms(100)), "shorter")
        .await
        .unwrap();
    finish(&f, &a, ms(10)).await;
    let claim = Claim::hosts("w1", 4, LEASE);
    assert_eq!(f.claim(&claim).await.unwrap(), Claimed::Wait(ms(500)));
    clock.advance(ms(500));
    assert_eq!(claim_one(&f).await.id.key, "b.test");
    assert_eq!(f.claim(&claim).await.unwrap(), Claimed::Wait(ms(1500)));
}

#[tokio::test]
async fn opening_after_a_crash_gives_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (f, _) = open(dir.path());
        assert_eq!(f.checkpoint_meta().await.unwrap(), None);
        push(&f, "http://a.test/1").await;
        push(&f, "http://a.test/2").await;
        let first = claim_one(&f).await;
        finish(&f, &first, Duration::ZERO).await;
        push(&f, "http://b.test/1").await;
        f.checkpoint(b"warc at 100").await.unwrap();
        assert_eq!(
            f.checkpoint_meta().await.unwrap().as_deref(),
            Some(&b"warc at 100"[..])
        );
        // After the checkpoint: a.test/2 leased (in flight at the kill), c.test pushed.
        let in_flight = claim_one(&f).await;
        assert_eq!(push(&f, "http://c.test/1").await, Pushed::Queued);
        let other = claim_one(&f).await;
        finish(&f, &other, Duration::ZERO).await;
        drop(in_flight);
    } // dropped without checkpoint: a crash, as far as the frontier knows
    let (f, _) = open(dir.path());
    assert_eq!(
        f.checkpoint_meta().await.unwrap().as_deref(),
        Some(&b"warc at 100"[..])
    );
    let stats = f.stats().await.unwrap();
    assert_eq!(
        (stats.queued, stats.leased, stats.done, stats.seen),
        (2, 0, 1, 3)
    );
    assert_eq!(
        push(&f, "http://a.test/1").await,
        Pushed::Seen,
        "done before the checkpoint"
    );
    assert_eq!(
        push(&f, "http://c.test/1").await,
        Pushed::Queued,
        "pushed after it: lost"
    );
    let urls: BTreeSet<String> = drain(&f, Duration::ZERO).await.into_iter().collect();
    let expected = ["http://a.test/2", "http://b.test/1", "http://c.test/1"];
    assert_eq!(urls, expected.iter().map(|s| s.to_string()).collect());
}

#[tokio::test]
async fn candidates_survive_a_checkpoint_whole() {
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
        let (f, _) = open(dir.path());
        f.push(candidate.clone()).await.unwrap();
        f.checkpoint(b"").await.unwrap();
    }
    let (f, _) = open(dir.path());
    assert_eq!(f.checkpoint_meta().await.unwrap(), Some(Vec::new()));
    assert_eq!(claim_one(&f).await.urls[0].candidate, candidate);
}

#[tokio::test]
async fn give_up_gives_back_its_queue_in_batches_keeps_the_lease_and_is_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = open(dir.path());
    let total = DROP_BATCH + 10;
    for i in 0..total {
        push(&f, &format!("http://gone.test/{i}")).await;
    }
    let out = claim_one(&f).await;
    push(&f, "http://kept.test/").await;
    assert_eq!(out.urls[0].candidate.url, "http://gone.test/0");
    f.checkpoint(b"mid").await.unwrap();
    for _ in 0..3 {
        let health = f.record_error("gone.test").await.unwrap();
        assert!(!health.given_up);
    }
    assert_eq!(f.health("gone.test").await.unwrap().errors_in_a_row, 3);
    let first = f.give_up("gone.test").await.unwrap();
    assert_eq!(first.len(), DROP_BATCH);
    assert_eq!(
        first[0].url, "http://gone.test/1",
        "FIFO, the leased URL stays out"
    );
    let second = f.give_up("gone.test").await.unwrap();
    assert_eq!(second.len(), total - 1 - DROP_BATCH);
    assert_eq!(
        second.last().unwrap().url,
        format!("http://gone.test/{}", total - 1)
    );
    assert!(f.give_up("gone.test").await.unwrap().is_empty());
    assert!(f.give_up("never.test").await.unwrap().is_empty());
    assert_eq!(
        push(&f, "http://gone.test/5").await,
        Pushed::HostGivenUp,
        "given up before seen"
    );
    assert_eq!(push(&f, "http://gone.test/new").await, Pushed::HostGivenUp);
    finish(&f, &out, Duration::ZERO).await;
    let stats = f.stats().await.unwrap();
    assert_eq!(
        (stats.queued, stats.leased, stats.done, stats.hosts),
        (1, 0, 1, 3)
    );
    f.checkpoint(b"dropped").await.unwrap();
    drop(f);
    let (f, _) = open(dir.path());
    let health = f.health("gone.test").await.unwrap();
    assert!(health.given_up, "held by the frontier across a restart");
    assert_eq!(health.errors_in_a_row, 3);
    f.record_success("gone.test").await.unwrap();
    assert_eq!(f.health("gone.test").await.unwrap().errors_in_a_row, 0);
    assert_eq!(push(&f, "http://gone.test/x").await, Pushed::HostGivenUp);
    let far = Duration::from_secs(60);
    assert_eq!(drain(&f, far).await, ["http://kept.test/"]);
}

#[tokio::test]
async fn mark_done_finishes_pending_urls_and_remembers_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = open(dir.path());
    push(&f, "http://a.test/1").await;
    push(&f, "http://a.test/2").await;
    assert!(f.mark_done("http://A.test/1#x").await.unwrap(), "pending");
    assert!(
        !f.mark_done("http://a.test/1").await.unwrap(),
        "done already"
    );
    assert!(
        !f.mark_done("http://a.test/fetched-after-checkpoint")
            .await
            .unwrap(),
        "never seen"
    );
    assert_eq!(
        push(&f, "http://a.test/fetched-after-checkpoint").await,
        Pushed::Seen
    );
    assert!(!f.mark_done("not a url").await.unwrap());
    let l = claim_one(&f).await;
    assert_eq!(l.urls[0].candidate.url, "http://a.test/2");
    assert!(
        f.mark_done("http://a.test/2").await.unwrap(),
        "in flight is pending"
    );
    finish(&f, &l, Duration::ZERO).await;
    let claim = Claim::hosts("w1", 1, LEASE);
    assert_eq!(f.claim(&claim).await.unwrap(), Claimed::Empty);
    assert_eq!(f.stats().await.unwrap().done, 2);
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused() {
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
#[tokio::test]
async fn seen_is_a_question_by_canonical_key() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = open(dir.path());
    assert_eq!(push(&f, "http://A.example/%7Ea#x").await, Pushed::Queued);
    assert!(f.seen("http://a.example/~a").await.unwrap());
    assert!(!f.seen("http://a.example/b").await.unwrap());
    assert!(!f.seen("not a url").await.unwrap());
    assert_eq!(
        push(&f, "http://a.example/b").await,
        Pushed::Queued,
        "seen changed nothing"
    );
    drop(f);
    let (f, _) = open(dir.path());
    assert!(!f.seen("http://a.example/~a").await.unwrap());
}

/// With `politeness.key = "domain"` the queue is the registrable domain, the key the fetcher
/// paces by: two hosts of one domain are one queue, never leased to two fetchers at once.
#[tokio::test]
async fn the_queue_key_is_the_politeness_key() {
    let dir = tempfile::tempdir().unwrap();
    let options = FrontierOptions {
        key: HostKey::Domain,
        clock: WallClock::manual(T0),
        ..FrontierOptions::default()
    };
    let f = EmbeddedFrontier::open(dir.path(), options).unwrap();
    for url in [
        "http://a.example.co.uk/1",
        "http://b.example.co.uk/1",
        "http://other.test/1",
        "http://127.0.0.1:8080/1",
    ] {
        assert_eq!(push(&f, url).await, Pushed::Queued);
    }
    let Claimed::Leases(leases) = f.claim(&Claim::hosts("w1", 10, LEASE)).await.unwrap() else {
        panic!("due")
    };
    let keys: BTreeSet<&str> = leases.iter().map(|l| l.id.key.as_str()).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["example.co.uk", "other.test", "127.0.0.1"])
    );
    for lease in &leases {
        let url = url::Url::parse(&lease.urls[0].candidate.url).unwrap();
        let fetcher_key = optout::net::politeness::site_key(&url, HostKey::Domain);
        assert_eq!(lease.id.key, fetcher_key);
    }
}
