//! The baseline of `benches/check_bulk.sh`: the plainest bulk robots.txt check a crawler
//! could write with `texting_robots`, whole process, for comparing with
//! `optout check --robots FILE --json`.
//!
//! `cargo run --release --example texting_loop -- ROBOTS_FILE AGENT < urls.txt` reads the
//! file, builds one matcher for the agent, and prints `allowed URL` or `refused URL` for
//! each line of standard input (the same buffered line reading and output as a real tool).

use std::io::{BufRead, BufWriter, Write};
use texting_robots::Robot;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, agent] = args.as_slice() else {
        eprintln!("usage: texting_loop ROBOTS_FILE AGENT < urls");
        std::process::exit(2);
    };
    let bytes = std::fs::read(file).unwrap_or_else(|e| {
        eprintln!("cannot read {file}: {e}");
        std::process::exit(2);
    });
    let robot = Robot::new(agent, &bytes).unwrap_or_else(|e| {
        eprintln!("cannot parse {file}: {e}");
        std::process::exit(2);
    });
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        let url = line.trim();
        if url.is_empty() {
            continue;
        }
        let verdict = if robot.allowed(url) {
            "allowed"
        } else {
            "refused"
        };
        if writeln!(out, "{verdict} {url}").is_err() {
            break;
        }
    }
    let _ = out.flush();
}
