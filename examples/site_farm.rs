//! A site farm for the crawl benchmarks (`benches/crawl.sh`, issue 13 items (a) and (b)):
//! `--hosts H` hosts on `127.0.0.2` upward (then `127.0.1.x`, ...), one origin each, with
//! `--pages P` linked pages per host and a robots.txt that allows everything. Page `i` links
//! to `i+1`, `2i+1`, `2i+2` and two more pages of its host, so a walk from page 0 reaches every
//! page. It prints one seed URL per host on stdout, then `ready`, and serves until SIGTERM,
//! SIGINT or the end of its standard input.
//!
//! On exit it prints to stderr one line a script can read:
//! `farm: requests=N pages=N distinct=N repeated=N hosts=H steady_pages_per_s=X
//! span_s=Y min_gap_ms=Z gaps_below=K`: pages per second over the middle 80% of the page
//! requests (the steady state, without the start and the tail), the time from the first to
//! the last request, the smallest gap between two requests to one host, and how many gaps were
//! below 0.8 × `--interval-ms` (politeness violations, with the arrival ≠ send tolerance).
//!
//! `cargo run --release --example site_farm -- --hosts 100 --pages 500 --interval-ms 50`

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One host: its pages' count and the arrival of every request.
struct Host {
    pages: usize,
    log: Mutex<Vec<(Instant, Option<usize>)>>,
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

/// `127.0.0.2` for host 0, upward: `127.0.0.2..=251`, then `127.0.1.2..`, and so on.
fn host_ip(index: usize) -> Ipv4Addr {
    assert!(index < 250 * 255, "at most 63,750 hosts");
    Ipv4Addr::new(127, 0, (index / 250) as u8, (2 + index % 250) as u8)
}

fn links(i: usize, pages: usize) -> Vec<usize> {
    let mut out: Vec<usize> = [
        i + 1,
        2 * i + 1,
        2 * i + 2,
        (i * 7 + 3) % pages,
        (i * 13 + 5) % pages,
    ]
    .into_iter()
    .filter(|&j| j < pages && j != i)
    .collect();
    out.dedup();
    out
}

fn page(i: usize, pages: usize) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html><head><title>page {i}</title></head><body>\n<h1>Page {i}</h1>\n"
    );
    for j in links(i, pages) {
        s.push_str(&format!("<p><a href=\"/p/{j}.html\">page {j}</a></p>\n"));
    }
    // About 2 KB of text, as a small real page has.
    for _ in 0..24 {
        s.push_str("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.</p>\n");
    }
    s.push_str("</body></html>\n");
    s
}

async fn handle(State(host): State<Arc<Host>>, request: Request) -> Response {
    let path = request.uri().path();
    let index = path
        .strip_prefix("/p/")
        .and_then(|p| p.strip_suffix(".html"))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n < host.pages);
    host.log.lock().unwrap().push((Instant::now(), index));
    if path == "/robots.txt" {
        return (
            [(header::CONTENT_TYPE, "text/plain")],
            "User-agent: *\nAllow: /\n",
        )
            .into_response();
    }
    match index {
        Some(i) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page(i, host.pages),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn report(hosts: &[Arc<Host>], interval_ms: usize) {
    let (mut requests, mut min_gap, mut below) = (0, f64::INFINITY, 0);
    let mut arrivals = Vec::new();
    let (mut distinct, mut repeated) = (0, 0);
    for host in hosts {
        let log = host.log.lock().unwrap();
        requests += log.len();
        let mut seen = vec![0u32; host.pages];
        for pair in log.windows(2) {
            let gap = pair[1].0.duration_since(pair[0].0).as_secs_f64() * 1000.0;
            min_gap = min_gap.min(gap);
            if gap < 0.8 * interval_ms as f64 {
                below += 1;
            }
        }
        for (at, index) in log.iter() {
            if let Some(i) = index {
                seen[*i] += 1;
                arrivals.push(*at);
            }
        }
        distinct += seen.iter().filter(|&&n| n > 0).count();
        repeated += seen.iter().filter(|&&n| n > 1).count();
    }
    arrivals.sort();
    let n = arrivals.len();
    let (steady, span) = if n >= 10 {
        let (a, b) = (arrivals[n / 10], arrivals[n * 9 / 10]);
        let secs = b.duration_since(a).as_secs_f64();
        (
            (n * 9 / 10 - n / 10) as f64 / secs,
            arrivals[n - 1].duration_since(arrivals[0]).as_secs_f64(),
        )
    } else {
        (0.0, 0.0)
    };
    eprintln!(
        "farm: requests={requests} pages={n} distinct={distinct} repeated={repeated} hosts={} \
         steady_pages_per_s={steady:.1} span_s={span:.3} min_gap_ms={min_gap:.2} gaps_below={below}",
        hosts.len()
    );
}

fn main() {
    let (count, pages, interval_ms) = (
        arg("--hosts", 100),
        arg("--pages", 500),
        arg("--interval-ms", 50),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(arg("--threads", 1))
        .enable_all()
        .build()
        .unwrap();
    let hosts: Vec<Arc<Host>> = (0..count)
        .map(|_| {
            Arc::new(Host {
                pages,
                log: Mutex::new(Vec::new()),
            })
        })
        .collect();
    runtime.block_on(async {
        let mut stdout = std::io::stdout().lock();
        for (i, host) in hosts.iter().enumerate() {
            let listener = tokio::net::TcpListener::bind((host_ip(i), 0))
                .await
                .expect("bind a farm host");
            writeln!(stdout, "http://{}/p/0.html", listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new()
                .fallback(handle)
                .with_state(Arc::clone(host));
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        }
        writeln!(stdout, "ready").unwrap();
        stdout.flush().unwrap();
        drop(stdout);
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        });
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = stdin_closed => {}
        }
    });
    report(&hosts, interval_ms);
    // Connections still open end with the process.
    std::process::exit(0);
}
