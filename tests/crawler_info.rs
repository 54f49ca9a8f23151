//! `optout crawler-info`: the real binary on a real store. The feed gains exactly one
//! entry per change of a published field and one per new evidence-log checkpoint, none for
//! a run without change; it is read back by Python's `feedparser` (`FEEDPARSER_PYTHON`,
//! installed by `scripts/test-all`) as well as by quick-xml.

use optout::store::Sled;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(
            site.path("ranges.txt"),
            "# our crawlers\n192.0.2.0/24\n2001:db8:1::/48 # v6\n",
        )
        .unwrap();
        std::fs::write(
            site.path("robots.txt"),
            "User-agent: *\nDisallow: /private/\n",
        )
        .unwrap();
        site.configure("Example AI", "crawler@example.org", "");
        site
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn configure(&self, operator: &str, email: &str, description: &str) {
        let toml = format!(
            "[crawler_info]\noperator = {}\ncontact_email = {}\ncomplaint_url = \"https://example.org/complaints\"\nbase_url = \"https://example.org/crawler/\"\nranges_file = {:?}\ndescription = {}\n",
            toml_string(operator),
            toml_string(email),
            self.path("ranges.txt"),
            toml_string(description),
        );
        std::fs::write(self.path("optout.toml"), toml).unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_optout"))
            .env("XDG_DATA_HOME", self.path("xdg"))
            .arg("--config")
            .arg(self.path("optout.toml"))
            .arg("--store")
            .arg(self.path("store"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs `optout crawler-info -o out`, which must succeed.
    fn publish(&self) -> Output {
        let out = self.run(&["crawler-info", "-o", self.path("out").to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        out
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path("out").join(name)).unwrap()
    }

    fn feed(&self) -> Feed {
        Feed::read(&self.path("out").join("feed.atom"))
    }
}

/// A TOML basic string holding `s` exactly.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The feed's entries, newest first, as (title, content).
struct Feed {
    entries: Vec<(String, String)>,
    author: String,
}

impl Feed {
    /// Reads the feed with quick-xml, and with feedparser when it is there: both must read
    /// the same entries.
    fn read(path: &Path) -> Feed {
        let feed = Feed::quick_xml(path);
        if let Some(parsed) = feedparser(path) {
            assert_eq!(parsed["bozo"], false, "feedparser: {parsed}");
            let entries: Vec<(String, String)> = parsed["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["title"].as_str().unwrap().to_owned(),
                        e["content"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert_eq!(entries, feed.entries, "feedparser and quick-xml disagree");
            assert_eq!(parsed["author"], feed.author.as_str());
        }
        feed
    }

    fn quick_xml(path: &Path) -> Feed {
        use quick_xml::events::Event;
        let xml = std::fs::read_to_string(path).unwrap();
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut stack, mut entries, mut author) = (Vec::<String>::new(), Vec::new(), None);
        let mut current = (String::new(), String::new());
        loop {
            let piece = match reader.read_event().unwrap() {
                Event::Start(e) => {
                    stack.push(e.name().as_ref().to_owned());
                    continue;
                }
                Event::End(_) => {
                    if stack.pop().as_deref() == Some("entry") {
                        entries.push(std::mem::take(&mut current));
                    }
                    continue;
                }
                Event::Text(t) => t.xml10_content().into_owned(),
                Event::GeneralRef(r) => match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_xml_entity(&r)
                        .unwrap()
                        .to_owned(),
                },
                Event::Eof => break,
                _ => continue,
            };
            match stack.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["feed", "entry", "title"] => current.0.push_str(&piece),
                ["feed", "entry", "content"] => current.1.push_str(&piece),
                ["feed", "author", "name"] => {
                    author.get_or_insert_with(String::new).push_str(&piece)
                }
                _ => {}
            }
        }
        assert!(stack.is_empty(), "unclosed elements {stack:?}");
        Feed {
            entries,
            author: author.unwrap_or_default(),
        }
    }
}

/// The feed as Python's feedparser reads it, or `None` (with a note) when
/// `FEEDPARSER_PYTHON` is not set; set, it must run.
fn feedparser(path: &Path) -> Option<Value> {
    let Some(python) = std::env::var_os("FEEDPARSER_PYTHON") else {
        eprintln!(
            "FEEDPARSER_PYTHON is not set: the feedparser check is skipped (scripts/test-all sets it)"
        );
        return None;
    };
    let script = r#"
import feedparser, json, sys
d = feedparser.parse(sys.argv[1])
print(json.dumps({
    "bozo": bool(d.bozo),
    "error": str(d.get("bozo_exception", "")),
    "author": d.feed.get("author_detail", {}).get("name", ""),
    "self": [l.href for l in d.feed.get("links", []) if l.rel == "self"],
    "entries": [{"id": e.id, "title": e.title, "content": e.content[0].value} for e in d.entries],
}))
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("FEEDPARSER_PYTHON={python:?} cannot run: {e}"));
    assert!(out.status.success(), "feedparser: {}", text(&out.stderr));
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["self"][0], "https://example.org/crawler/feed.atom");
    Some(parsed)
}

#[test]
fn the_feed_gains_one_entry_per_change_and_none_without() {
    let site = Site::new();
    site.publish();
    let first = site.feed();
    assert_eq!(first.entries.len(), 1, "{:?}", first.entries);
    assert_eq!(first.entries[0].0, "Crawler information first published");
    let files = ["index.html", "crawler.json", "ranges.json", "feed.atom"];
    let before: Vec<String> = files.iter().map(|f| site.read(f)).collect();

    // Nothing changed: no entry, and the same bytes in every file.
    let out = site.publish();
    assert!(
        text(&out.stdout).contains("0 new feed entries, 1 in all"),
        "{}",
        text(&out.stdout)
    );
    let after: Vec<String> = files.iter().map(|f| site.read(f)).collect();
    assert_eq!(before, after);

    // One published field changed: one entry naming it.
    site.configure("Example AI", "rights@example.org", "");
    site.publish();
    let changed = site.feed();
    assert_eq!(changed.entries.len(), 2, "{:?}", changed.entries);
    assert_eq!(changed.entries[0].0, "Changed: contact.email");
    assert_eq!(changed.entries[0].1, "contact.email: rights@example.org");
    assert_eq!(changed.entries[1], first.entries[0]);
    let json: Value = serde_json::from_str(&site.read("crawler.json")).unwrap();
    assert_eq!(json["contact"]["email"], "rights@example.org");
    assert_eq!(json["checkpoint"], Value::Null, "no records, no checkpoint");

    // Decisions appended to the log: one checkpoint entry, the head `log checkpoint` prints.
    let robots = site.path("robots.txt");
    let check = site.run(&[
        "check",
        "--robots",
        robots.to_str().unwrap(),
        "https://example.com/",
        "https://example.com/private/a",
    ]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stderr));
    site.publish();
    let checked = site.feed();
    assert_eq!(checked.entries.len(), 3, "{:?}", checked.entries);
    assert_eq!(checked.entries[0].0, "Evidence log checkpoint: record 2");
    let line = text(&site.run(&["log", "checkpoint"]).stdout);
    let head = line.split(" time=").next().unwrap();
    assert!(
        head.starts_with("optout-checkpoint v1 seq=2 hash="),
        "{line}"
    );
    assert!(
        checked.entries[0].1.starts_with(&format!("{head} time=")),
        "{:?}",
        checked.entries[0]
    );
    let json: Value = serde_json::from_str(&site.read("crawler.json")).unwrap();
    assert_eq!(
        json["checkpoint"].as_str(),
        Some(checked.entries[0].1.as_str())
    );
    assert!(site.read("index.html").contains(head));

    // The log did not move: nothing new.
    site.publish();
    assert_eq!(site.feed().entries, checked.entries);
}

#[test]
fn ranges_json_has_the_operators_shape() {
    let site = Site::new();
    site.publish();
    let ranges: Value = serde_json::from_str(&site.read("ranges.json")).unwrap();
    let keys: Vec<&String> = ranges.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["creationTime", "prefixes"]);
    let created = ranges["creationTime"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(created).is_ok(), "{created}");
    assert_eq!(
        ranges["prefixes"],
        serde_json::json!([{"ipv4Prefix": "192.0.2.0/24"}, {"ipv6Prefix": "2001:db8:1::/48"}])
    );
    let page = site.read("index.html");
    assert!(
        page.contains(
            "<link rel=\"client-ranges\" type=\"application/json\" href=\"ranges.json\">"
        )
    );
    assert!(page.contains("<link rel=\"alternate\" type=\"application/atom+xml\""));
    let json: Value = serde_json::from_str(&site.read("crawler.json")).unwrap();
    assert_eq!(
        json["ip_ranges"],
        serde_json::json!(["192.0.2.0/24", "2001:db8:1::/48"])
    );
    assert_eq!(
        json["links"]["ranges"],
        "https://example.org/crawler/ranges.json"
    );
    assert_eq!(json["product_tokens"], serde_json::json!(["optout"]));
    let agent = json["user_agent"].as_str().unwrap();
    assert_eq!(
        agent,
        format!(
            "optout/{} (+https://example.org/optout-crawler)",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn a_bad_ranges_line_is_one_error_naming_file_and_line() {
    let site = Site::new();
    std::fs::write(site.path("ranges.txt"), "192.0.2.0/24\n\n198.51.100.7/24\n").unwrap();
    let out = site.run(&["crawler-info", "-o", site.path("out").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{} line 3:", site.path("ranges.txt").display())),
        "{err}"
    );
    assert!(err.contains("198.51.100.0/24"), "{err}");
    assert!(!site.path("out").exists() && !site.path("store").exists());
}

#[test]
fn without_operator_and_contact_nothing_is_published() {
    let site = Site::new();
    std::fs::write(site.path("optout.toml"), "").unwrap();
    let out = site.run(&["crawler-info", "-o", site.path("out").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("crawler_info.operator is not set"), "{err}");
    assert!(!site.path("out").exists());
    std::fs::write(
        site.path("optout.toml"),
        "[crawler_info]\ncomplaint_url = \"javascript:alert(1)\"\n",
    )
    .unwrap();
    let err = text(&site.run(&["crawler-info", "-o", "x"]).stderr);
    assert!(err.contains("crawler_info.complaint_url"), "{err}");
}

#[test]
fn hostile_config_strings_are_escaped() {
    let site = Site::new();
    let operator = "Evil <script>alert(1)</script> ]]> \"quoted\" 'single' & co";
    let description = "</pre></code><img src=x onerror=alert(1)> ]]>";
    site.configure(operator, "crawler@example.org", description);
    site.publish();
    let page = site.read("index.html");
    assert!(
        !page.contains("<script") && !page.contains("<img"),
        "{page}"
    );
    assert!(page.contains("Evil &lt;script&gt;alert(1)&lt;/script&gt; ]]&gt; &quot;quoted&quot; &#39;single&#39; &amp; co"));
    // The feed reads back the exact strings: escaped, not mangled.
    assert_eq!(site.feed().author, operator);
    let feed = site.read("feed.atom");
    assert!(!feed.contains("<script") && !feed.contains("]]>"), "{feed}");
    // A change to a hostile value names it, escaped too.
    site.configure(operator, "crawler@example.org", "<b>bold</b>");
    site.publish();
    let entries = site.feed().entries;
    assert_eq!(
        entries[0],
        (
            "Changed: description".into(),
            "description: <b>bold</b>".into()
        )
    );
    let json: Value = serde_json::from_str(&site.read("crawler.json")).unwrap();
    assert_eq!(json["operator"], operator);
}

#[test]
fn a_store_in_use_is_refused() {
    let site = Site::new();
    let _held = optout::store::Store::open(&site.path("store")).unwrap();
    let out = site.run(&["crawler-info", "-o", site.path("out").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("is in use by another optout process"), "{err}");
}
