//! `optout report` and `optout report --eu-summary` against real logs: made by the real
//! binary (offline checks for refusals per protocol, fetches from loopback servers for kept
//! bytes) or, for a forged log with hostile strings, through the library into a real sled
//! store. Every figure is compared with `optout log stats` and `optout log export` on the
//! same log, and the domain cuts with a fixture computed by hand.

#[path = "support/server.rs"]
mod server;

use optout::evidence::{Durability, EvidenceLog, Record, SourceRef, record::RECORD_SCHEMA};
use optout::report::{domain, template};
use optout::store::{Sled, Store};
use serde_json::{Value, json};
use server::{Reply, Server};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Log {
    dir: tempfile::TempDir,
}

impl Log {
    fn new(config: &str) -> Log {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            format!("[politeness]\nmin_interval_ms = 1\n{config}"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("robots.txt"),
            "User-agent: *\nDisallow: /private/\n",
        )
        .unwrap();
        Log { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_optout"))
            .arg("--store")
            .arg(self.path("store"))
            .arg("--config")
            .arg(self.path("config.toml"))
            .arg("--allow-private-addresses")
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs and expects exit `code`; returns standard output.
    fn expect(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn check(&self, headers: &[&str], urls: &[&str]) {
        let robots = self.path("robots.txt");
        let mut args = vec!["check", "--robots", robots.to_str().unwrap()];
        for h in headers {
            args.extend(["--header", h]);
        }
        args.extend(urls);
        let out = self.run(&args);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    }

    /// `log stats`: records, then (table, key) -> count.
    fn stats(&self) -> (u64, BTreeMap<(String, String), u64>) {
        let text = self.expect(0, &["log", "stats"]);
        let mut lines = text.lines();
        let records = lines.next().unwrap().strip_prefix("records ").unwrap();
        let table = lines
            .map(|l| {
                let mut words = l.split_whitespace();
                let title = words.next().unwrap().to_owned();
                let n: u64 = words.next().unwrap().parse().unwrap();
                ((title, words.next().unwrap_or("").to_owned()), n)
            })
            .collect();
        (records.parse().unwrap(), table)
    }

    fn export(&self) -> Vec<Value> {
        self.expect(0, &["log", "export"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn report(&self, args: &[&str]) -> Value {
        let file = self.path("report.json");
        let mut all = vec!["report", "-o", file.to_str().unwrap()];
        all.extend(args);
        self.expect(0, &all);
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
    }

    fn summary(&self, args: &[&str], name: &str) -> (Value, String, String) {
        let dir = self.path(name);
        let mut all = vec!["report", "--eu-summary", "-o", dir.to_str().unwrap()];
        all.extend(args);
        self.expect(0, &all);
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        (
            serde_json::from_str(&read("summary.json")).unwrap(),
            read("summary.md"),
            read("domains.csv"),
        )
    }
}

fn protocol<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap()
}

fn map(value: &Value) -> BTreeMap<String, u64> {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn server_on(last: u8) -> Server {
    Server::start_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
}

#[test]
fn report_figures_equal_log_stats_and_export() {
    let log = Log::new("");
    log.check(
        &[],
        &["https://a.example/private/1", "https://a.example/private/2"],
    );
    log.check(
        &[],
        &["https://www.a.example/private/3", "https://a.example/ok"],
    );
    log.check(
        &["X-Robots-Tag: noai"],
        &["https://b.example/x", "https://www.b.example/y"],
    );
    log.check(&["Content-Usage: train-ai=n"], &["https://c.example/z"]);
    log.check(&["tdm-reservation: 1"], &["https://d.example/t"]);
    let one = server_on(1);
    one.route("/page", Reply::ok(vec![b'a'; 1000]));
    one.route("/page2", Reply::ok(vec![b'b'; 234]));
    one.route(
        "/noai",
        Reply::ok(vec![b'c'; 50]).header("X-Robots-Tag", "noai"),
    );
    let two = server_on(2);
    two.route("/big", Reply::ok(vec![b'd'; 5000]));
    let urls = [
        one.url("/page"),
        one.url("/page2"),
        one.url("/noai"),
        two.url("/big"),
    ];
    let mut args = vec!["fetch", "--json"];
    args.extend(urls.iter().map(String::as_str));
    log.expect(1, &args);

    let report = log.report(&[]);
    let (records, stats) = log.stats();
    let export = log.export();
    // log stats: records, verdicts, reasons.
    assert_eq!(report["records"], records);
    assert_eq!(records, 8 + 4);
    let table = |title: &str| -> BTreeMap<String, u64> {
        stats
            .iter()
            .filter(|((t, _), _)| t == title)
            .map(|((_, k), n)| (k.clone(), *n))
            .collect()
    };
    assert_eq!(map(&report["verdicts"]), table("verdict"));
    assert_eq!(map(&report["reasons"]), table("reason"));
    // Per domain: the hosts of log stats, grouped by registrable domain.
    let mut by_domain: BTreeMap<String, u64> = BTreeMap::new();
    for (host, n) in table("host") {
        *by_domain.entry(domain::of_host(&host)).or_default() += n;
    }
    let domains = report["domains"].as_array().unwrap();
    let requests: BTreeMap<String, u64> = domains
        .iter()
        .map(|d| {
            (
                d["domain"].as_str().unwrap().to_owned(),
                d["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(requests, by_domain);
    assert_eq!(requests["a.example"], 4);
    // Kept: allowed records with a body, from the export; and as served.
    let kept: Vec<&Value> = export
        .iter()
        .filter(|r| r["verdict"] == "allowed" && r["bytes"].is_u64())
        .collect();
    let bytes: u64 = kept.iter().map(|r| r["bytes"].as_u64().unwrap()).sum();
    assert_eq!((kept.len(), bytes), (3, 6234));
    assert_eq!(report["kept"], 3);
    assert_eq!(report["bytes_kept"], 6234);
    let names: Vec<&str> = domains
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(&names[..2], ["127.0.0.2", "127.0.0.1"], "by bytes kept");
    assert_eq!(domains[1]["bytes"], 1234);
    assert_eq!(domains[1]["discarded"], 1);
    // Protocols, as the log was made.
    for (id, refusals) in [
        ("robots", 3),
        ("noai", 3),
        ("aipref", 1),
        ("tdmrep", 1),
        ("ai-txt", 0),
    ] {
        assert_eq!(protocol(&report, id)["refusals"], refusals, "{id}");
    }
    let decided: u64 = report["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["decided"].as_u64().unwrap())
        .sum();
    assert_eq!(
        decided,
        table("verdict")["refused"] + table("verdict")["discarded"]
    );
    // Offline checks were given a robots.txt: six origins served one; the loopback
    // servers answered 404.
    assert_eq!(protocol(&report, "robots")["origins_using"], 6);
    assert_eq!(protocol(&report, "noai")["origins_using"], 3);
    let origins: std::collections::BTreeSet<&str> = export
        .iter()
        .map(|r| r["origin"].as_str().unwrap())
        .collect();
    assert_eq!(report["origins"], origins.len() as u64);
    assert_eq!(
        report["top_refused"][0],
        json!({"domain": "a.example", "records": 3})
    );
    let per_day: u64 = report["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            ["allowed", "refused", "discarded", "other"]
                .iter()
                .map(|k| d[k].as_u64().unwrap())
                .sum::<u64>()
        })
        .sum();
    assert_eq!(per_day, records);

    // The same figures in Markdown and HTML.
    let md = log.path("report.md");
    log.expect(0, &["report", "-o", md.to_str().unwrap()]);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| robots.disallow | 3 |"), "{md}");
    assert!(md.contains("| 127.0.0.1 | 3 | 2 | 0 | 1 | 1234 |"), "{md}");
    let html = log.expect(0, &["report", "--format", "html", "-o", "-"]);
    assert!(html.contains(&format!("<dd id=\"records\">{records}</dd>")));
    assert!(html.contains("<dd id=\"bytes-kept\">6234</dd>"));

    // Filters as `log export` has them.
    let future = log.report(&["--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(future["records"], 0);
    assert_eq!(future["domains"], json!([]));
    let past = log.report(&[
        "--until",
        "2999-01-01T00:00:00Z",
        "--since",
        "2000-01-01T00:00:00Z",
    ]);
    assert_eq!(past["records"], records);
    // From the time of the 9th record (the first fetch): what `log export --since` gives.
    let since = export[8]["time"].as_str().unwrap();
    let exported = log
        .expect(0, &["log", "export", "--since", since])
        .lines()
        .count();
    let later = log.report(&["--since", since]);
    assert_eq!(later["records"], exported as u64);
    assert_eq!(later["since"], since);
    assert_eq!(later["bytes_kept"], 6234);
    let bad = log.run(&["report", "--since", "yesterday", "-o", "-"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1);
    // The store is only read: it still verifies.
    log.expect(0, &["log", "verify"]);
}

#[test]
fn the_eu_summary_lists_the_top_domains_by_content_kept() {
    let log = Log::new(
        "[summary]\nprovider = \"Example AI\"\nmodalities = [\"Text\"]\n\
         purposes = \"Training *general-purpose* models.\"\nsignatory = true\n",
    );
    // 25 domains (loopback addresses count as themselves), 100 bytes × k kept from the
    // k-th; .22 and .23 tie at 2300 bytes, and the tie is broken by name.
    let size = |k: usize| if k == 22 { 2300 } else { 100 * k };
    let servers: Vec<Server> = (1..=25u8)
        .map(|k| {
            let s = server_on(k);
            s.route("/page", Reply::ok(vec![b'x'; size(k as usize)]));
            s
        })
        .collect();
    let urls: Vec<String> = servers.iter().map(|s| s.url("/page")).collect();
    let mut args = vec!["fetch", "--json"];
    args.extend(urls.iter().map(String::as_str));
    log.expect(0, &args);
    // One refused domain with nothing kept: listed in the CSV, never in the summary.
    log.check(&[], &["https://refused.example/private/x"]);

    // By hand: top 10% of 25 domains = ceil(2.5) = 3; SME: ceil(1.25) = 2.
    let (json, md, csv) = log.summary(&[], "eu");
    let listed = |v: &Value| -> Vec<String> {
        v["domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["domain"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed(&json), ["127.0.0.25", "127.0.0.24", "127.0.0.22"]);
    assert_eq!(json["domains_with_content"], 25);
    assert_eq!(json["domains"][0]["bytes"], 2500);
    let (sme, _, _) = log.summary(&["--sme"], "eu-sme");
    assert_eq!(listed(&sme), ["127.0.0.25", "127.0.0.24"]);
    assert_eq!(sme["cut"], "sme");

    // domains.csv: every domain, by bytes kept, ties by name.
    let rows: Vec<Vec<String>> = csv
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows[0][..3], ["rank", "domain", "bytes_kept"]);
    assert_eq!(rows.len(), 1 + 26);
    assert_eq!(rows[3][1..3], ["127.0.0.22", "2300"]);
    assert_eq!(rows[4][1..3], ["127.0.0.23", "2300"]);
    assert_eq!(rows[3][7], "yes");
    assert_eq!(rows[4][7], "no");
    assert_eq!(rows[26][1..3], ["refused.example", "0"]);
    let total: u64 = rows[1..].iter().map(|r| r[2].parse::<u64>().unwrap()).sum();
    assert_eq!(total, log.report(&[])["bytes_kept"].as_u64().unwrap());

    // The template's labels, verbatim; what the provider left empty says so.
    for label in [
        template::CRAWLERS_USED,
        template::CRAWLER_NAMES,
        template::PURPOSES,
        template::BEHAVIOUR,
        template::PERIOD,
        template::CONTENT,
        template::MODALITY,
        template::DOMAINS,
        template::SIGNATORY,
        template::MEASURES,
    ] {
        assert!(md.contains(&format!("### {label}\n")), "{label}");
    }
    let field = |section: &str, label: &str| -> Value {
        json[section]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["label"] == label)
            .unwrap()
            .clone()
    };
    assert_eq!(
        field("section_2_3", template::CRAWLERS_USED)["answer"],
        "Yes"
    );
    assert_eq!(field("section_2_3", template::MODALITY)["answer"], "Text");
    assert_eq!(
        field("section_2_3", template::PURPOSES)["answer"],
        "Training *general-purpose* models."
    );
    assert_eq!(
        field("section_2_3", template::BEHAVIOUR)["to_be_completed"],
        true
    );
    assert_eq!(
        field("section_2_3", template::CONTENT)["to_be_completed"],
        true
    );
    assert_eq!(field("section_3_1", template::SIGNATORY)["answer"], "Yes");
    assert!(md.contains(&format!(
        "### {}\n\n{}\n",
        template::BEHAVIOUR,
        template::TO_BE_COMPLETED
    )));
    let agent = field("section_2_3", template::CRAWLER_NAMES)["answer"].clone();
    assert!(agent.as_str().unwrap().contains("optout/"), "{agent}");
    let robots = json["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["protocol"] == "robots.txt")
        .unwrap();
    assert_eq!(
        robots["version"],
        "RFC 9309, Robots Exclusion Protocol (September 2022)"
    );
    assert_eq!(robots["refusals"], 1);

    // A config field the template does not offer is refused with one line.
    std::fs::write(
        log.path("config.toml"),
        "[summary]\nmodalities = [\"Smell\"]\n",
    )
    .unwrap();
    let out = log.run(&[
        "report",
        "--eu-summary",
        "-o",
        log.path("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("summary.modalities") && err.lines().count() == 1,
        "{err}"
    );
}

/// A log written through the library with what only a forger (or a bug) would write:
/// markup, quotes, newlines and formula starters in every field the report shows.
fn forged(store: &Path) {
    let store = open_retrying(store);
    let log = EvidenceLog::open(store.clone(), Durability::default()).unwrap();
    let record =
        |time: &str, url: &str, agent: &str, purpose: &str, code: &str, bytes: Option<u64>| {
            Record {
                schema: RECORD_SCHEMA,
                seq: 0,
                time: time.to_owned(),
                url: url.to_owned(),
                origin: url::Url::parse(url)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_default(),
                agent: agent.to_owned(),
                purpose: purpose.to_owned(),
                verdict: if bytes.is_some() {
                    "allowed"
                } else {
                    "refused"
                }
                .to_owned(),
                reasons: json!([{ "code": code }]),
                sources: vec![SourceRef::offline("robots.txt", "x", b"")],
                status: bytes.map(|_| 200),
                bytes,
            }
        };
    for r in [
        record(
            "2026-01-01T00:00:00.000Z",
            "http://=cmd.example/<script>alert(1)</script>\"",
            "<script>alert(1)</script>",
            "a\"b\nc|d",
            "<img src=x onerror=alert(1)>|x",
            Some(7),
        ),
        record(
            "<b>not a time</b>",
            "http://-2+3.example/",
            "bot\n# heading",
            "[link](javascript:alert(1))",
            "robots.disallow",
            None,
        ),
    ] {
        log.append(r).unwrap();
    }
    log.sync().unwrap();
    drop(log);
    store.flush().unwrap();
}

/// Opens a store, waiting while the last one's writer thread still holds its lock.
fn open_retrying(path: &Path) -> Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(path) {
            Err(optout::store::StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other.unwrap(),
        }
    }
}

#[test]
fn strings_from_the_log_are_escaped_in_html_markdown_and_csv() {
    let log = Log::new("");
    forged(&log.path("store"));
    let html = log.expect(0, &["report", "-o", "-", "--format", "html"]);
    for bad in ["<script", "<img", "<b>", "\"b\n"] {
        assert!(!html.contains(bad), "{bad} in the HTML");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let md = log.expect(0, &["report", "-o", "-", "--format", "md"]);
    for bad in ["<script", "<img", "\n# heading", "[link]("] {
        assert!(!md.contains(bad), "{bad} in the Markdown");
    }
    // Every table row keeps its columns: no pipe or line break from the log splits one.
    for line in md.lines().filter(|l| l.starts_with('|')) {
        let cells = line.replace("\\|", "").matches('|').count();
        assert!(cells == 3 || cells == 5 || cells == 7, "{line}");
    }
    let (json, summary_md, csv) = log.summary(&[], "eu");
    assert!(!summary_md.contains("<script"), "{summary_md}");
    assert!(
        csv.lines().any(|l| l.starts_with("1,'=cmd.example,7,")),
        "{csv}"
    );
    assert!(csv.lines().any(|l| l.contains(",'-2+3.example,")), "{csv}");
    assert_eq!(json["domains"][0]["domain"], "=cmd.example");
    let report = log.report(&[]);
    assert_eq!(report["days"][0]["day"], "(no date)");
    assert_eq!(report["first"], "2026-01-01T00:00:00.000Z");
}

#[test]
fn a_missing_or_damaged_store_is_one_line() {
    let log = Log::new("");
    let out = log.run(&["report", "-o", log.path("r.html").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    assert!(!log.path("r.html").exists());
    // A record that is not JSON.
    forged(&log.path("store"));
    {
        let store = open_retrying(&log.path("store"));
        let key = store.records().iter().keys().next().unwrap().unwrap();
        store.records().insert(key, &b"\xff not json"[..]).unwrap();
        store.flush().unwrap();
    }
    let out = log.run(&["report", "-o", log.path("r.html").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!log.path("r.html").exists());
}
