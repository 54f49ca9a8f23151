//! Policy inputs a hostile review found read too permissively, end to end: robots.txt in
//! Latin-1 and with stray `%`, excluded IPv6 addresses, and a page that both reserves and
//! waives TDM rights. The real binary decides; robots.txt comes from a real server or a file.

#[path = "support/server.rs"]
mod server;

use optout::policy::crawlers::AiCrawlers;
use optout::policy::excluded::ExcludedDomains;
use optout::policy::html::PageMeta;
use optout::policy::judge::{Asset, Judge};
use optout::policy::site::SitePolicy;
use optout::policy::{Code, Decision, Purpose, Verdict, parse_url};
use server::{Reply, Server};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the binary with its own store and data directory.
fn optout(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optout"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .arg("--store")
        .arg(dir.join("store"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The JSON lines of `optout check --json`, one per URL.
fn checked(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(args);
    let o = optout(dir, &all);
    let out = String::from_utf8(o.stdout).unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{out}{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l} {err}")))
        .collect()
}

fn codes(line: &serde_json::Value) -> Vec<&str> {
    line["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn rfc9309_latin1_robots_txt_from_a_server_refuses_what_a_browser_requests() {
    let server = Server::start();
    server.route(
        "/robots.txt",
        Reply::ok(
            &b"User-agent: *\nDisallow: /\xFCber/\nDisallow: /caf\xE9\nDisallow: /\x80/\n"[..],
        )
        .header("content-type", "text/plain; charset=iso-8859-1"),
    );
    let dir = tempfile::tempdir().unwrap();
    let urls = [
        "/\u{fc}ber/uns",
        "/caf%C3%A9/menu",
        "/\u{20ac}/x",
        "/%FCber/",
        "/ok",
    ];
    let urls: Vec<String> = urls.iter().map(|p| server.url(p)).collect();
    let mut args = vec!["--allow-private-addresses", "check", "--json"];
    args.extend(urls.iter().map(String::as_str));
    let o = optout(dir.path(), &args);
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "{out}");
    for (line, rule) in lines
        .iter()
        .zip(["/\u{fc}ber/", "/caf\u{e9}", "/\u{20ac}/", "/\u{fc}ber/"])
    {
        assert_eq!(line["verdict"], "refused", "{line}");
        assert_eq!(line["reasons"][0]["code"], "robots.disallow", "{line}");
        assert_eq!(line["reasons"][0]["rule"], rule, "{line}");
        assert!(codes(line).contains(&"robots.invalid-utf8"), "{line}");
    }
    assert_eq!(lines[4]["verdict"], "allowed", "{}", lines[4]);
    assert_eq!(server.count("/robots.txt"), 1);
}

#[test]
fn google_stray_percent_rules_refuse_in_either_reading() {
    let dir = tempfile::tempdir().unwrap();
    let robots = write(
        dir.path(),
        "robots.txt",
        b"User-agent: *\nDisallow: /100%\nDisallow: /a\nAllow: /a%zz\n",
    );
    let lines = checked(
        dir.path(),
        &[
            "--robots",
            &robots,
            "https://e.example/100%20off",
            "https://e.example/100%",
            "https://e.example/a%25zz",
            "https://e.example/a%zz",
            "https://e.example/1000",
        ],
    );
    let verdicts: Vec<&str> = lines
        .iter()
        .map(|l| l["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["refused", "refused", "refused", "allowed", "allowed"],
        "{lines:?}"
    );
    assert_eq!(lines[2]["reasons"][0]["rule"], "/a", "{}", lines[2]);
}

#[test]
fn excluded_ipv6_entries_and_ipv4_mapped_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let list = write(
        dir.path(),
        "excluded.txt",
        b"2001:DB8::1\n192.0.2.1\n[::ffff:198.51.100.7] # mapped\n",
    );
    // A robots.txt file keeps the check offline.
    let robots = write(dir.path(), "robots.txt", b"User-agent: *\nAllow: /\n");
    let lines = checked(
        dir.path(),
        &[
            "--robots",
            &robots,
            "--excluded-domains",
            &list,
            "http://[2001:db8:0:0::1]/x",
            "http://[::ffff:192.0.2.1]/x",
            "http://198.51.100.7/",
            "http://[2001:db8::2]/",
        ],
    );
    for (line, entry) in lines.iter().zip([1, 2, 3]) {
        assert_eq!(line["verdict"], "refused", "{line}");
        assert_eq!(line["reasons"][0]["code"], "excluded-domain", "{line}");
        assert_eq!(line["reasons"][0]["line"], entry, "{line}");
    }
    assert_eq!(lines[3]["verdict"], "allowed", "{}", lines[3]);
}

#[test]
fn tdm_reservation_anywhere_in_the_page_wins_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let reserve_then_waive = write(
        dir.path(),
        "a.html",
        br#"<meta name="tdm-reservation" content="1"><meta name="tdm-reservation" content="0">"#,
    );
    let waive = write(
        dir.path(),
        "b.html",
        br#"<meta name="tdm-reservation" content="0"><meta name="tdm-policy" content="https://e.example/meta">"#,
    );
    let run = |extra: &[&str]| {
        let mut args = extra.to_vec();
        args.push("https://e.example/page");
        checked(dir.path(), &args).remove(0)
    };
    let line = run(&["--html", &reserve_then_waive]);
    assert_eq!(line["reasons"][0]["code"], "tdmrep.reserved", "{line}");
    assert_eq!(line["reasons"][0]["source"], "meta tdm-reservation");
    let line = run(&[
        "--header",
        "tdm-reservation: 1",
        "--header",
        "tdm-policy: https://e.example/header",
        "--html",
        &waive,
    ]);
    assert_eq!(line["reasons"][0]["code"], "tdmrep.reserved", "{line}");
    assert_eq!(line["reasons"][0]["source"], "header tdm-reservation");
    assert_eq!(line["reasons"][0]["policy"], "https://e.example/header");
    let line = run(&["--header", "tdm-reservation: 0, 1"]);
    assert_eq!(line["reasons"][0]["code"], "tdmrep.reserved", "{line}");
}

/// The judge's decision for train-ai on a page with `headers` and `meta`.
fn judged(headers: &[(&str, &str)], meta: Option<PageMeta>) -> Decision {
    let site = SitePolicy::new(None, None, None, &AiCrawlers::default());
    let asset = Asset {
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        meta,
    };
    let excluded = ExcludedDomains::default();
    let judge = Judge {
        agent: "optout",
        purpose: Purpose::TrainAi,
        excluded: &excluded,
        ai_crawler_blocks: true,
    };
    judge.decide(
        &site,
        Some(&asset),
        &parse_url("https://e.example/p").unwrap(),
    )
}

fn tdm_meta(values: &[&str]) -> Option<PageMeta> {
    let html: String = values
        .iter()
        .map(|v| format!(r#"<meta name="tdm-reservation" content="{v}">"#))
        .collect();
    Some(PageMeta::parse(html.as_bytes()))
}

#[test]
fn tdm_reservation_one_in_any_source_and_any_order_reserves() {
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Headers, &[&str], &str); 6] = [
        (&[], &["1", "0"], "meta tdm-reservation"),
        (&[], &["0", "1"], "meta tdm-reservation"),
        (
            &[("tdm-reservation", "1")],
            &["0"],
            "header tdm-reservation",
        ),
        (&[("tdm-reservation", "0")], &["1"], "meta tdm-reservation"),
        (
            &[("TDM-Reservation", "1"), ("tdm-reservation", "0")],
            &[],
            "header tdm-reservation",
        ),
        (
            &[("tdm-reservation", "1")],
            &["yes", "0"],
            "header tdm-reservation",
        ),
    ];
    for (headers, metas, source) in cases {
        let d = judged(headers, tdm_meta(metas));
        assert_eq!(d.verdict, Verdict::Refused, "{headers:?} {metas:?}: {d:?}");
        assert_eq!(d.reasons[0].code, Code::TdmrepReserved);
        assert_eq!(d.reasons[0].source.as_deref(), Some(source), "{d:?}");
    }
    let d = judged(&[("tdm-reservation", "0")], tdm_meta(&["0"]));
    assert_eq!(d.verdict, Verdict::Allowed, "{d:?}");
}

#[test]
fn tdm_reservation_in_either_reading_of_a_utf16_page_reserves() {
    let utf16 = |text: &str, bom: bool| {
        let mut bytes = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    };
    let meta = |v: &str| format!(r#"<meta name="tdm-reservation" content="{v}">"#);
    // The decoded reading reserves and the raw bytes waive, then the other way round.
    let mut first = utf16(&meta("1"), true);
    first.extend_from_slice(meta("0").as_bytes());
    let mut second = utf16(&meta("0"), false);
    second.extend_from_slice(meta("1").as_bytes());
    let content_type = Some("text/html; charset=utf-16le");
    for (page, content_type) in [(first, None), (second, content_type)] {
        for read in [PageMeta::scan_encoded, PageMeta::parse_encoded] {
            let d = judged(&[], Some(read(&page, content_type)));
            assert_eq!(d.verdict, Verdict::Refused, "{d:?}");
            assert_eq!(d.reasons[0].code, Code::TdmrepReserved);
        }
    }
}
