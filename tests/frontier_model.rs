//! A model test of the embedded frontier: random pushes, leases, dones, `mark_done`,
//! `drop_host`, checkpoints and reopenings (crashes) against a few collections.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::Instant;

use optout::crawl::frontier::{
    Candidate, EmbeddedFrontier, Frontier, FrontierOptions, Lease, Next, Pushed,
};
use proptest::prelude::*;

fn open(dir: &Path) -> EmbeddedFrontier {
    EmbeddedFrontier::open(dir, FrontierOptions::default()).expect("frontier opens")
}

/// One step of the model test.
#[derive(Debug, Clone)]
enum Op {
    Push { host: u8, page: u8, variant: bool },
    Next,
    Done(usize),
    MarkDone { host: u8, page: u8 },
    DropHost(u8),
    Checkpoint,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u8, 0..8u8, any::<bool>()).prop_map(|(host, page, variant)| Op::Push { host, page, variant }),
        3 => Just(Op::Next),
        3 => (0..4usize).prop_map(Op::Done),
        1 => (0..3u8, 0..8u8).prop_map(|(host, page)| Op::MarkDone { host, page }),
        1 => (0..3u8).prop_map(Op::DropHost),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
    ]
}

/// The frontier as a few collections: what each host has queued (the leased URL first, still
/// queued), which host has its URL out, and what was seen.
#[derive(Debug, Clone, Default)]
struct Model {
    queues: BTreeMap<String, VecDeque<String>>,
    out: BTreeSet<String>,
    seen: BTreeSet<String>,
}

fn url(host: u8, page: u8) -> String {
    format!("http://h{host}.test/p{page}")
}

fn next_in_model(model: &mut Model, lease: &Lease) -> Result<(), TestCaseError> {
    let queue = model.queues.get(&lease.host).cloned().unwrap_or_default();
    prop_assert!(
        !model.out.contains(&lease.host),
        "two leases for {}",
        lease.host
    );
    prop_assert_eq!(
        queue.front(),
        Some(&canonical(&lease.candidate.url)),
        "FIFO per host"
    );
    model.out.insert(lease.host.clone());
    Ok(())
}

/// The model's name for a URL pushed in either spelling.
fn canonical(found: &str) -> String {
    found
        .to_ascii_lowercase()
        .replace(":80/", "/")
        .replace("#frag", "")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_frontier_behaves_like_its_model(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let now = Instant::now();
        let mut f = Some(open(dir.path()));
        let mut model = Model::default();
        let mut checkpointed = Model::default();
        let mut leases: Vec<Lease> = Vec::new();
        for op in ops {
            let frontier = f.as_ref().unwrap();
            match op {
                Op::Push { host, page, variant } => {
                    let plain = url(host, page);
                    let found = if variant { format!("HTTP://H{host}.test:80/p{page}#frag") } else { plain.clone() };
                    let pushed = frontier.push(Candidate::seed(found)).unwrap();
                    if model.seen.insert(plain.clone()) {
                        prop_assert_eq!(pushed, Pushed::Queued);
                        model.queues.entry(format!("h{host}.test")).or_default().push_back(plain);
                    } else {
                        prop_assert_eq!(pushed, Pushed::Seen);
                    }
                }
                Op::Next => match frontier.next(now).unwrap() {
                    Next::Ready(lease) => {
                        next_in_model(&mut model, &lease)?;
                        leases.push(lease);
                    }
                    Next::Busy => {
                        prop_assert!(!model.out.is_empty());
                        prop_assert!(model.queues.iter().all(|(h, q)| q.is_empty() || model.out.contains(h)));
                    }
                    Next::Empty => {
                        prop_assert!(model.out.is_empty());
                        prop_assert!(model.queues.values().all(VecDeque::is_empty));
                    }
                    Next::Wait(w) => prop_assert!(false, "every host is due at once, got Wait({:?})", w),
                },
                Op::Done(i) if i < leases.len() => {
                    let lease = leases.remove(i);
                    model.out.remove(&lease.host);
                    let queue = model.queues.get_mut(&lease.host).unwrap();
                    prop_assert_eq!(queue.pop_front(), Some(canonical(&lease.candidate.url)));
                    frontier.done(lease, now).unwrap();
                }
                Op::Done(_) => {}
                Op::MarkDone { host, page } => {
                    let plain = url(host, page);
                    let name = format!("h{host}.test");
                    let queue = model.queues.entry(name.clone()).or_default();
                    let leased = model.out.contains(&name) && queue.front() == Some(&plain);
                    let expected = if leased {
                        true
                    } else if let Some(at) = queue.iter().position(|u| *u == plain) {
                        queue.remove(at);
                        true
                    } else {
                        model.seen.insert(plain.clone());
                        false
                    };
                    prop_assert_eq!(frontier.mark_done(&plain).unwrap(), expected);
                }
                Op::DropHost(host) => {
                    let name = format!("h{host}.test");
                    let queue = model.queues.entry(name.clone()).or_default();
                    let keep = if model.out.contains(&name) { queue.pop_front() } else { None };
                    let expected: Vec<String> = queue.drain(..).collect();
                    queue.extend(keep);
                    let dropped: Vec<String> = frontier.drop_host(&name).unwrap().iter().map(|c| canonical(&c.url)).collect();
                    prop_assert_eq!(dropped, expected);
                }
                Op::Checkpoint => {
                    frontier.checkpoint(b"meta").unwrap();
                    checkpointed = model.clone();
                }
                Op::Reopen => {
                    drop(f.take());
                    f = Some(open(dir.path()));
                    model = checkpointed.clone();
                    model.out.clear();
                    leases.clear();
                }
            }
            let stats = f.as_ref().unwrap().stats();
            let queued: usize = model.queues.values().map(VecDeque::len).sum();
            prop_assert_eq!(stats.queued + stats.leased, queued as u64);
            prop_assert_eq!(stats.leased, model.out.len() as u64);
            prop_assert_eq!(stats.seen, model.seen.len() as u64);
        }
    }
}
