//! The evidence-log workload, shared by `benches/evidence.rs` and
//! `examples/evidence_profile.rs` (through `#[path]`) so that the instruction counts and the
//! wall-clock figures are taken on the same records.
//!
//! Records are realistic: a robots.txt decision for the agent `optout` and the purpose
//! `train-ai` on a URL of about 60 bytes (some allowed, some refused), one or two reasons
//! (every other record's robots.txt is not UTF-8, which adds a note), and one source
//! reference with status and fetch time; stored, each is 670 to 830 bytes of JSON.

use optout::evidence::{Record, SourceRef};
use optout::policy::{Purpose, RobotsTxt};
use url::Url;

/// Two robots.txt files: the second is not UTF-8, so its decisions carry a second reason.
const ROBOTS: [&[u8]; 2] = [
    b"User-agent: *\nDisallow: /private/\n",
    b"User-agent: *\nDisallow: /private/\n# caf\xe9\n",
];

const SECTIONS: &[&str] = &["articles", "private", "products", "blog", "private/archive"];

/// `n` records as `optout check` would log them (time left empty: the log stamps it).
pub fn records(n: usize) -> Vec<Record> {
    let robots = ROBOTS.map(RobotsTxt::parse);
    let fetched_at = "2025-06-01T12:00:00.000Z".to_owned();
    (0..n)
        .map(|i| {
            let which = i % 2;
            let host = format!("www.example-site-{:03}.com", i % 997);
            let section = SECTIONS[i % SECTIONS.len()];
            let url = Url::parse(&format!("https://{host}/{section}/2025/item-{i:07}.html"))
                .expect("benchmark URL parses");
            let decision = robots[which].allowed("optout", &url);
            let source = SourceRef {
                kind: "robots.txt".to_owned(),
                url: format!("https://{host}/robots.txt"),
                status: Some(200),
                fetched_at: Some(fetched_at.clone()),
                sha256: optout::evidence::record::sha256_hex(ROBOTS[which]),
            };
            Record::of_decision(&url, "optout", Purpose::TrainAi, &decision, vec![source])
        })
        .collect()
}
