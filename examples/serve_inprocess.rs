//! The in-process half of `benches/serve.sh`: the same decisions `POST /v1/check` makes,
//! made by calling [`Engine::check_many`] directly, in batches of 100 URLs, with as many
//! batches in flight as the HTTP load generator keeps (`--concurrency`), for `--seconds`.
//! The policy caches are warmed first, as the benchmark warms the service's.
//!
//! `serve_inprocess --store DIR --config FILE --urls FILE [--seconds 20] [--concurrency 16]`
//!
//! Prints one line: `inprocess: decisions=N seconds=S decisions_per_s=X p99_ms=Y`.

use optout::config::Config;
use optout::engine::{Engine, EngineOptions, OpenEngine};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let config = Config::load(arg("--config").as_deref().map(std::path::Path::new)).unwrap();
    let store = arg("--store").expect("--store DIR");
    let urls: Vec<String> = std::fs::read_to_string(arg("--urls").expect("--urls FILE"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let seconds: u64 = arg("--seconds").map_or(20, |s| s.parse().unwrap());
    let concurrency: usize = arg("--concurrency").map_or(16, |s| s.parse().unwrap());
    let engine = Arc::new(
        Engine::open(
            &config,
            Some(std::path::Path::new(&store)),
            EngineOptions::default(),
        )
        .unwrap(),
    );
    let ask = Arc::new(engine.ask(None, None).unwrap());
    let batches: Arc<Vec<Vec<String>>> =
        Arc::new(urls.chunks(100).map(<[String]>::to_vec).collect());
    // Warm: every origin's policy in memory.
    for batch in batches.iter() {
        engine.check_many(&ask, batch.clone()).await.unwrap();
    }
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (engine, ask, batches) = (Arc::clone(&engine), Arc::clone(&ask), Arc::clone(&batches));
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut decisions = 0u64;
            let mut i = w;
            while Instant::now() < until {
                let batch = batches[i % batches.len()].clone();
                i += concurrency;
                let t = Instant::now();
                decisions += engine.check_many(&ask, batch).await.unwrap().len() as u64;
                latencies.push(t.elapsed());
            }
            (decisions, latencies)
        }));
    }
    let mut decisions = 0;
    let mut latencies = Vec::new();
    for w in workers {
        let (d, l) = w.await.unwrap();
        decisions += d;
        latencies.extend(l);
    }
    let took = started.elapsed().as_secs_f64();
    latencies.sort();
    let p99 = latencies
        .get(latencies.len() * 99 / 100)
        .copied()
        .unwrap_or_default();
    println!(
        "inprocess: decisions={decisions} seconds={took:.2} decisions_per_s={:.0} p99_ms={:.2}",
        decisions as f64 / took,
        p99.as_secs_f64() * 1000.0
    );
}
