//! A model test of the embedded frontier: random pushes, claims of several hosts and URLs,
//! acknowledgements in any order, releases, renewals, the clock moving past leases' ends,
//! stale writes (fencing), blocks, give ups, `mark_done`, checkpoints and reopenings
//! (crashes) against a few collections.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::Duration;

use optout::crawl::frontier::{
    Acked, Candidate, Claim, Claimed, EmbeddedFrontier, Frontier, FrontierError, FrontierOptions,
    HostLease, Pushed, Stale, UnixMillis, WallClock,
};
use proptest::prelude::*;

const LEASE_MS: u64 = 1000;

fn open(dir: &Path, clock: &WallClock) -> EmbeddedFrontier {
    let options = FrontierOptions {
        clock: clock.clone(),
        ..FrontierOptions::default()
    };
    EmbeddedFrontier::open(dir, options).expect("frontier opens")
}

/// One step of the model test.
#[derive(Debug, Clone)]
enum Op {
    Push { host: u8, page: u8, variant: bool },
    Claim { hosts: usize, urls: usize },
    Ack { lease: usize, url: usize },
    Release { lease: usize, after_ms: u64 },
    Renew(usize),
    Advance(u64),
    Block { host: u8, ms: u64 },
    MarkDone { host: u8, page: u8 },
    GiveUp(u8),
    Checkpoint,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u8, 0..8u8, any::<bool>()).prop_map(|(host, page, variant)| Op::Push { host, page, variant }),
        3 => (1..3usize, 1..3usize).prop_map(|(hosts, urls)| Op::Claim { hosts, urls }),
        3 => (0..4usize, 0..2usize).prop_map(|(lease, url)| Op::Ack { lease, url }),
        2 => (0..4usize, prop_oneof![Just(0u64), Just(300)]).prop_map(|(lease, after_ms)| Op::Release { lease, after_ms }),
        1 => (0..4usize).prop_map(Op::Renew),
        1 => prop_oneof![Just(100u64), Just(600), Just(1500)].prop_map(Op::Advance),
        1 => (0..3u8, prop_oneof![Just(200u64), Just(2000)]).prop_map(|(host, ms)| Op::Block { host, ms }),
        1 => (0..3u8, 0..8u8).prop_map(|(host, page)| Op::MarkDone { host, page }),
        1 => (0..3u8).prop_map(Op::GiveUp),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
    ]
}

/// A lease as the model sees it: the frontier's, the URLs not yet acknowledged and when it
/// ends; `live` until released or ended by the frontier.
#[derive(Debug, Clone)]
struct ModelLease {
    lease: HostLease,
    open: Vec<(u64, String)>,
    expires: u64,
    live: bool,
}

/// The frontier as a few collections: each host's queue (leased URLs still queued, in
/// order), when each host is due, which are given up, what was seen, and the leases.
#[derive(Debug, Clone, Default)]
struct Model {
    queues: BTreeMap<String, VecDeque<String>>,
    due: BTreeMap<String, u64>,
    given_up: BTreeSet<String>,
    seen: BTreeSet<String>,
    leases: Vec<ModelLease>,
}

impl Model {
    fn leased(&self, host: &str) -> Option<&ModelLease> {
        self.leases
            .iter()
            .find(|l| l.live && l.lease.id.key == host)
    }

    fn out(&self, url: &str) -> bool {
        self.leases
            .iter()
            .any(|l| l.live && l.open.iter().any(|(_, u)| u == url))
    }

    /// Ends the leases whose time is up, as the frontier does when it looks (a claim, the
    /// stats).
    fn reap(&mut self, now: u64) {
        for lease in &mut self.leases {
            if lease.live && lease.expires <= now {
                lease.live = false;
            }
        }
    }

    /// Hosts with queued URLs, no lease and not given up: (host, due).
    fn eligible(&self) -> Vec<(String, u64)> {
        let hosts = self.queues.iter().filter(|(h, q)| {
            !q.is_empty() && self.leased(h).is_none() && !self.given_up.contains(*h)
        });
        hosts
            .map(|(h, _)| (h.clone(), self.due.get(h).copied().unwrap_or(0)))
            .collect()
    }

    /// What a write under `lease` is: `None` if it holds, else why it is stale.
    fn stale(&self, lease: usize, now: u64) -> Option<Stale> {
        let l = &self.leases[lease];
        match (l.live, l.expires <= now) {
            (true, false) => None,
            (true, true) => Some(Stale::Expired),
            (false, _) => Some(Stale::NotHeld),
        }
    }

    fn remove(&mut self, host: &str, url: &str) {
        let queue = self.queues.get_mut(host).unwrap();
        let at = queue.iter().position(|u| u == url).unwrap();
        queue.remove(at);
    }
}

fn url(host: u8, page: u8) -> String {
    format!("http://h{host}.test/p{page}")
}

/// The model's name for a URL pushed in either spelling.
fn canonical(found: &str) -> String {
    found
        .to_ascii_lowercase()
        .replace(":80/", "/")
        .replace("#frag", "")
}

fn check_stale<T: std::fmt::Debug>(
    result: Result<T, FrontierError>,
    expected: Option<Stale>,
) -> Result<Option<T>, TestCaseError> {
    match (result, expected) {
        (Ok(value), None) => Ok(Some(value)),
        (Err(FrontierError::StaleLease { why, .. }), Some(expected)) => {
            prop_assert_eq!(why, expected);
            Ok(None)
        }
        (other, expected) => {
            prop_assert!(false, "expected stale {:?}, got {:?}", expected, other);
            Ok(None)
        }
    }
}

struct Run {
    clock: WallClock,
    now: u64,
    model: Model,
}

impl Run {
    async fn claim(
        &mut self,
        f: &EmbeddedFrontier,
        hosts: usize,
        urls: usize,
    ) -> Result<(), TestCaseError> {
        self.model.reap(self.now);
        let eligible = self.model.eligible();
        let due: Vec<&(String, u64)> = eligible.iter().filter(|(_, d)| *d <= self.now).collect();
        let claim = Claim {
            max_urls_per_host: urls,
            ..Claim::hosts("w", hosts, Duration::from_millis(LEASE_MS))
        };
        match f.claim(&claim).await.unwrap() {
            Claimed::Leases(leases) => {
                prop_assert_eq!(leases.len(), hosts.min(due.len()));
                let latest = leases
                    .iter()
                    .map(|l| self.model.due.get(&l.id.key).copied().unwrap_or(0))
                    .max();
                for lease in leases {
                    let host = lease.id.key.clone();
                    prop_assert!(due.iter().any(|(h, _)| *h == host), "{} is not due", host);
                    let queue = &self.model.queues[&host];
                    let expected: Vec<&String> = queue.iter().take(urls).collect();
                    let got: Vec<String> = lease
                        .urls
                        .iter()
                        .map(|u| canonical(&u.candidate.url))
                        .collect();
                    prop_assert_eq!(got.iter().collect::<Vec<_>>(), expected, "FIFO per host");
                    prop_assert_eq!(lease.expires, UnixMillis(self.now + LEASE_MS));
                    let open = lease
                        .urls
                        .iter()
                        .map(|u| (u.id, canonical(&u.candidate.url)))
                        .collect();
                    self.model.leases.push(ModelLease {
                        lease,
                        open,
                        expires: self.now + LEASE_MS,
                        live: true,
                    });
                }
                // Earliest due first: no host left out was due before one handed out.
                let left_out = due.iter().filter(|(h, _)| self.model.leased(h).is_none());
                for (h, d) in left_out {
                    prop_assert!(Some(*d) >= latest, "{} was due first", h);
                }
            }
            Claimed::Wait(wait) => {
                prop_assert!(due.is_empty());
                let first = eligible.iter().map(|(_, d)| *d).min();
                prop_assert_eq!(first.map(|d| d - self.now), Some(wait.as_millis() as u64));
            }
            Claimed::Busy => {
                prop_assert!(eligible.is_empty());
                prop_assert!(self.model.leases.iter().any(|l| l.live));
            }
            Claimed::Empty => {
                prop_assert!(eligible.is_empty());
                prop_assert!(!self.model.leases.iter().any(|l| l.live));
            }
        }
        Ok(())
    }

    async fn ack(&mut self, f: &EmbeddedFrontier, i: usize, j: usize) -> Result<(), TestCaseError> {
        let Some(l) = self.model.leases.get(i) else {
            return Ok(());
        };
        let Some((id, url)) = l.open.get(j).cloned() else {
            return Ok(());
        };
        let key = l.lease.id.clone();
        let expected = self.model.stale(i, self.now);
        if check_stale(f.ack(&key, id, Acked::Done).await, expected)?.is_some() {
            self.model.leases[i].open.remove(j);
            self.model.remove(&key.key, &url);
        }
        Ok(())
    }

    async fn release(
        &mut self,
        f: &EmbeddedFrontier,
        i: usize,
        after: u64,
    ) -> Result<(), TestCaseError> {
        let Some(l) = self.model.leases.get(i) else {
            return Ok(());
        };
        let key = l.lease.id.clone();
        let expected = self.model.stale(i, self.now);
        if check_stale(
            f.release(&key, Duration::from_millis(after)).await,
            expected,
        )?
        .is_some()
        {
            self.model.leases[i].live = false;
            let due = self.model.due.entry(key.key).or_default();
            *due = (*due).max(self.now + after);
        }
        Ok(())
    }

    async fn renew(&mut self, f: &EmbeddedFrontier, i: usize) -> Result<(), TestCaseError> {
        let Some(l) = self.model.leases.get(i) else {
            return Ok(());
        };
        let key = l.lease.id.clone();
        let expected = self.model.stale(i, self.now);
        let renewed = f.renew(&key, Duration::from_millis(LEASE_MS)).await;
        if let Some(until) = check_stale(renewed, expected)? {
            prop_assert_eq!(until, UnixMillis(self.now + LEASE_MS));
            self.model.leases[i].expires = self.now + LEASE_MS;
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_frontier_behaves_like_its_model(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async move { behaves(ops).await })?;
    }
}

async fn behaves(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_700_000_000_000;
    let clock = WallClock::manual(UnixMillis(start));
    let mut f = Some(open(dir.path(), &clock));
    let mut run = Run {
        clock,
        now: start,
        model: Model::default(),
    };
    let mut checkpointed = Model::default();
    for op in ops {
        let frontier = f.as_ref().unwrap();
        let advanced = matches!(op, Op::Advance(_));
        match op {
            Op::Push {
                host,
                page,
                variant,
            } => {
                let plain = url(host, page);
                let found = if variant {
                    format!("HTTP://H{host}.test:80/p{page}#frag")
                } else {
                    plain.clone()
                };
                let pushed = frontier.push(Candidate::seed(found)).await.unwrap();
                let name = format!("h{host}.test");
                if run.model.given_up.contains(&name) {
                    prop_assert_eq!(pushed, Pushed::HostGivenUp);
                } else if run.model.seen.insert(plain.clone()) {
                    prop_assert_eq!(pushed, Pushed::Queued);
                    run.model.queues.entry(name).or_default().push_back(plain);
                } else {
                    prop_assert_eq!(pushed, Pushed::Seen);
                }
            }
            Op::Claim { hosts, urls } => run.claim(frontier, hosts, urls).await?,
            Op::Ack { lease, url } => run.ack(frontier, lease, url).await?,
            Op::Release { lease, after_ms } => run.release(frontier, lease, after_ms).await?,
            Op::Renew(lease) => run.renew(frontier, lease).await?,
            Op::Advance(ms) => {
                run.clock.advance(Duration::from_millis(ms));
                run.now += ms;
            }
            Op::Block { host, ms } => {
                let name = format!("h{host}.test");
                frontier
                    .block_until(&name, UnixMillis(run.now + ms), "test")
                    .await
                    .unwrap();
                let due = run.model.due.entry(name).or_default();
                *due = (*due).max(run.now + ms);
            }
            Op::MarkDone { host, page } => {
                let plain = url(host, page);
                let name = format!("h{host}.test");
                let out = run.model.out(&plain);
                let queue = run.model.queues.entry(name.clone()).or_default();
                let expected = if out {
                    true
                } else if let Some(at) = queue.iter().position(|u| *u == plain) {
                    queue.remove(at);
                    true
                } else {
                    run.model.seen.insert(plain.clone());
                    false
                };
                prop_assert_eq!(frontier.mark_done(&plain).await.unwrap(), expected);
            }
            Op::GiveUp(host) => {
                let name = format!("h{host}.test");
                run.model.given_up.insert(name.clone());
                let queue = run.model.queues.get(&name).cloned().unwrap_or_default();
                let (kept, expected): (Vec<String>, Vec<String>) =
                    queue.into_iter().partition(|u| run.model.out(u));
                run.model.queues.insert(name.clone(), kept.into());
                let dropped: Vec<String> = frontier
                    .give_up(&name)
                    .await
                    .unwrap()
                    .iter()
                    .map(|c| canonical(&c.url))
                    .collect();
                prop_assert_eq!(dropped, expected);
                prop_assert!(frontier.give_up(&name).await.unwrap().is_empty());
                prop_assert!(frontier.health(&name).await.unwrap().given_up);
            }
            Op::Checkpoint => {
                frontier.checkpoint(b"meta").await.unwrap();
                checkpointed = run.model.clone();
            }
            Op::Reopen => {
                drop(f.take());
                f = Some(open(dir.path(), &run.clock));
                run.model = checkpointed.clone();
                // Leases and due times are the process's: a new opening has neither.
                run.model.leases.clear();
                run.model.due.clear();
            }
        }
        if advanced {
            // Looked at later: a lease whose time is up may still be there, stale.
            continue;
        }
        let stats = f.as_ref().unwrap().stats().await.unwrap();
        run.model.reap(run.now);
        let queued: usize = run.model.queues.values().map(VecDeque::len).sum();
        let leased: usize = run
            .model
            .leases
            .iter()
            .filter(|l| l.live)
            .map(|l| l.open.len())
            .sum();
        prop_assert_eq!(stats.queued + stats.leased, queued as u64);
        prop_assert_eq!(stats.leased, leased as u64);
        prop_assert_eq!(stats.seen, run.model.seen.len() as u64);
    }
    Ok(())
}
