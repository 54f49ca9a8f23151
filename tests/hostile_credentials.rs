//! Credentials are never sent and never written down. A redirect (of a policy file, of a
//! page, through the middleware) to a URL with a user name or password is refused with
//! `url.userinfo` before anything is sent to it: the server behind it sees no request, no
//! request anywhere carries `Authorization`, and the password is in no record, no output
//! line and no log line. And the middleware's private-address guard checks the address the
//! inner client actually connected to.
//!
//! The "vault" server on 127.0.0.2 stands for the host the credentials are for: it must
//! never be asked anything.

#[path = "support/server.rs"]
mod server;

use optout::config::{Config, Lists};
use optout::evidence::EvidenceLog;
use optout::evidence::export::{self, Filter};
use optout::fetcher::{Fetcher, Outcome};
use optout::net::{FetchError, HttpClient};
use optout::policy::{Purpose, Verdict};
use optout::store::{Sled, Store};
use server::{Reply, Server};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

const SECRET: &str = "secret";

const OPEN: &str = "[net]\nallow_private_addresses = true\nread_timeout_ms = 2000\n\
    total_timeout_ms = 5000\n[politeness]\nmin_interval_ms = 1\n";

/// The policy files, by path and by the name reasons give them.
const FILES: [(&str, &str); 3] = [
    ("/robots.txt", "robots.txt"),
    ("/.well-known/tdmrep.json", "tdmrep.json"),
    ("/ai.txt", "ai.txt"),
];

struct Rig {
    dir: tempfile::TempDir,
    fetcher: Arc<Fetcher>,
}

impl Rig {
    /// A fetcher over a store in a temp dir, private addresses allowed (loopback servers).
    fn new() -> Rig {
        let config = Config::from_toml(OPEN).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let log = Arc::new(EvidenceLog::open(store, config.evidence).unwrap());
        let fetcher = Arc::new(Fetcher::new(&config, log, Lists::default()).unwrap());
        Rig { dir, fetcher }
    }

    /// Syncs the log and checks that the password is neither in the export nor anywhere in
    /// the store's files (records, snapshots, the policy cache).
    fn assert_no_secret_stored(&self) {
        let log = self.fetcher.log();
        log.sync().unwrap();
        log.store().flush().unwrap();
        let mut out = Vec::new();
        let records = export::jsonl(log.store(), &Filter::default(), &mut out).unwrap();
        assert!(records > 0, "nothing was recorded");
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains(SECRET),
            "the export has the password:\n{text}"
        );
        assert_no_secret_in_files(self.dir.path());
    }
}

fn assert_no_secret_in_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_no_secret_in_files(&path);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{} has the password",
                path.display()
            );
        }
    }
}

/// The host the credentials are for.
fn vault() -> Server {
    let vault = Server::start_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    vault.fallback(Reply::ok("User-agent: *\nAllow: /\n"));
    vault
}

/// `path` on the vault, with a user name and password.
fn with_password(vault: &Server, path: &str) -> String {
    format!("http://user:{SECRET}@{}{path}", vault.addr())
}

/// `path` on the vault, with an empty `@` (the URL parser drops it silently).
fn with_empty_at(vault: &Server, path: &str) -> String {
    format!("http://@{}{path}", vault.addr())
}

/// A site that allows everything, has a page, and redirects `path` to `location`.
fn site(path: &str, location: &str) -> Server {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    s.route(
        "/page",
        Reply::ok("<html><body>hello</body></html>").header("Content-Type", "text/html"),
    );
    s.route(path, Reply::redirect(301, location));
    s
}

fn assert_nothing_sent(vault: &Server, others: &[&Server]) {
    assert_eq!(
        vault.total(),
        0,
        "the vault was asked: {:?}",
        vault.requests()
    );
    for server in others {
        for seen in server.requests() {
            for name in ["authorization", "proxy-authorization", "cookie"] {
                assert!(seen.header(name).is_none(), "{name} sent: {seen:?}");
            }
        }
    }
}

fn codes(reasons: &[optout::policy::Reason]) -> Vec<(String, Option<String>)> {
    reasons
        .iter()
        .map(|r| {
            (
                r.code.as_str().to_owned(),
                r.source.as_deref().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_policy_file_redirected_to_credentials_is_refused_and_nothing_is_sent() {
    for (path, name) in FILES {
        for location in [with_password, with_empty_at] {
            let vault = vault();
            let s = site(path, &location(&vault, path));
            let rig = Rig::new();
            let outcome = rig
                .fetcher
                .fetch(&s.url("/page"), Purpose::TrainAi)
                .await
                .unwrap();
            let Outcome::NotFetched(refusal) = &outcome else {
                panic!("{path}: fetched although {name} is unknown: {outcome:?}");
            };
            assert_eq!(refusal.verdict, Verdict::Refused, "{path}");
            let codes = codes(&refusal.reasons);
            assert!(
                codes.contains(&("url.userinfo".into(), Some(name.into()))),
                "{path}: {codes:?}"
            );
            assert!(!format!("{outcome:?}").contains(SECRET), "{outcome:?}");
            assert_eq!(s.count("/page"), 0, "{path}: the page was requested");
            assert_nothing_sent(&vault, &[&s]);
            rig.assert_no_secret_stored();
        }
    }
}

#[tokio::test]
async fn a_page_redirected_to_credentials_is_refused_and_nothing_is_sent() {
    for location in [with_password, with_empty_at] {
        let vault = vault();
        let s = site("/go", &location(&vault, "/page"));
        let rig = Rig::new();
        let outcome = rig
            .fetcher
            .fetch(&s.url("/go"), Purpose::TrainAi)
            .await
            .unwrap();
        let Outcome::NotFetched(refusal) = &outcome else {
            panic!("followed a redirect to credentials: {outcome:?}");
        };
        assert_eq!(refusal.reasons[0].code.as_str(), "url.userinfo");
        assert!(!format!("{outcome:?}").contains(SECRET), "{outcome:?}");
        assert_nothing_sent(&vault, &[&s]);
        rig.assert_no_secret_stored();
    }
}

#[tokio::test]
async fn the_client_itself_never_sends_credentials() {
    let vault = vault();
    let config = Config::from_toml(OPEN).unwrap();
    let client = HttpClient::new(&config).unwrap();
    let url = url::Url::parse(&with_password(&vault, "/robots.txt")).unwrap();
    let refused = client
        .get(&url, Default::default(), 1000)
        .await
        .unwrap_err();
    assert!(matches!(refused, FetchError::Credentials(_)), "{refused}");
    assert!(refused.to_string().starts_with("url.userinfo"), "{refused}");
    assert!(!refused.to_string().contains(SECRET), "{refused}");
    let url = url::Url::parse(&vault.url("/robots.txt")).unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", "Basic dXNlcjpzZWNyZXQ=".parse().unwrap());
    let refused = client.get(&url, headers, 1000).await.unwrap_err();
    assert!(matches!(refused, FetchError::Credentials(_)), "{refused}");
    assert_nothing_sent(&vault, &[]);
}

/// Runs the binary with its store in `store`, `-vvv`, private addresses allowed.
fn optout(store: &Path, args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_optout"))
        .env_remove("RUST_LOG")
        .env("XDG_DATA_HOME", data.path())
        .arg("-vvv")
        .arg("--allow-private-addresses")
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .unwrap()
}

fn assert_no_secret_in(output: &Output, what: &str) {
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        !out.contains(SECRET),
        "{what}: stdout has the password:\n{out}"
    );
    assert!(
        !err.contains(SECRET),
        "{what}: stderr has the password:\n{err}"
    );
}

#[test]
fn the_cli_shows_no_password_on_any_output_or_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let vault = vault();
    let mut sites = Vec::new();
    for (path, _) in FILES {
        let s = site(path, &with_password(&vault, path));
        let page = s.url("/page");
        for args in [
            vec!["check", page.as_str()],
            vec!["check", "--json", page.as_str()],
            vec!["fetch", page.as_str()],
            vec!["fetch", "--json", page.as_str(), page.as_str()],
        ] {
            let output = optout(&store, &args);
            assert_no_secret_in(&output, &format!("{args:?}"));
            let shown = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            assert!(shown.contains("url.userinfo"), "{args:?}: {shown}");
            assert_eq!(output.status.code(), Some(1), "{args:?}: {shown}");
        }
        assert_eq!(s.count("/page"), 0);
        sites.push(s);
    }
    // A page redirect, and a URL given with a password.
    let s = site("/go", &with_password(&vault, "/page"));
    let go = s.url("/go");
    let given = format!("http://user:{SECRET}@{}/page", s.addr());
    for args in [
        vec!["fetch", go.as_str()],
        vec!["fetch", "--json", go.as_str(), go.as_str()],
        vec!["check", given.as_str()],
        vec!["check", "--json", given.as_str()],
        vec!["fetch", given.as_str()],
        vec!["fetch", "--json", given.as_str(), given.as_str()],
    ] {
        let output = optout(&store, &args);
        assert_no_secret_in(&output, &format!("{args:?}"));
    }
    sites.push(s);
    let export = optout(&store, &["log", "export"]);
    assert!(export.status.success());
    assert!(!export.stdout.is_empty());
    assert_no_secret_in(&export, "log export");
    let csv = optout(&store, &["log", "export", "--format", "csv"]);
    assert_no_secret_in(&csv, "log export --format csv");
    assert_no_secret_in_files(&store);
    assert_nothing_sent(&vault, &sites.iter().collect::<Vec<_>>());
}

#[cfg(feature = "reqwest-middleware")]
mod middleware {
    use super::*;
    use optout::middleware::Optout;
    use optout::net::PolicySources;

    fn plain_client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap()
    }

    fn layered(
        inner: reqwest::Client,
        fetcher: &Arc<Fetcher>,
    ) -> reqwest_middleware::ClientWithMiddleware {
        reqwest_middleware::ClientBuilder::new(inner)
            .with(Optout::new(Arc::clone(fetcher), Purpose::TrainAi))
            .build()
    }

    #[tokio::test]
    async fn the_middleware_never_sends_credentials() {
        let vault = vault();
        let s = site("/go", &with_password(&vault, "/page"));
        let rig = Rig::new();
        let client = layered(plain_client(), &rig.fetcher);
        // reqwest moves the user name and password into an Authorization header.
        let given = client
            .get(with_password(&vault, "/page"))
            .send()
            .await
            .unwrap_err();
        assert!(!format!("{given} {given:?}").contains(SECRET), "{given:?}");
        // A request built by hand keeps them in its URL.
        let url = reqwest::Url::parse(&with_password(&vault, "/page")).unwrap();
        let request = reqwest::Request::new(reqwest::Method::GET, url);
        let built = client.execute(request).await.unwrap_err();
        assert!(built.to_string().contains("url.userinfo"), "{built}");
        assert!(!format!("{built} {built:?}").contains(SECRET), "{built:?}");
        // A redirect to them.
        let redirected = client.get(s.url("/go")).send().await.unwrap_err();
        assert!(
            redirected.to_string().contains("url.userinfo"),
            "{redirected}"
        );
        assert!(
            !format!("{redirected} {redirected:?}").contains(SECRET),
            "{redirected:?}"
        );
        assert_nothing_sent(&vault, &[&s]);
        rig.assert_no_secret_stored();
    }

    /// A fetcher whose guard refuses private addresses for pages, with the policy files
    /// fetched by a client that allows them (the test's sites are on loopback).
    fn guarded_rig() -> Rig {
        let open = Config::from_toml(OPEN).unwrap();
        let guarded = Config::from_toml(&OPEN.replace(
            "allow_private_addresses = true",
            "allow_private_addresses = false",
        ))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let lists = Lists::default();
        let sources = PolicySources::new(
            &open,
            HttpClient::new(&open).unwrap(),
            Some(store.clone()),
            Arc::new(lists.ai_crawlers.clone()),
        );
        let log = Arc::new(EvidenceLog::open(store, guarded.evidence).unwrap());
        let fetcher = Fetcher::from_parts(
            &guarded,
            HttpClient::new(&guarded).unwrap(),
            Arc::new(sources),
            log,
            Arc::new(lists),
        );
        assert!(!fetcher.allows_private());
        Rig {
            dir,
            fetcher: Arc::new(fetcher),
        }
    }

    /// `path` on `s` through the name `localhost` (which resolves to 127.0.0.1).
    fn by_name(s: &Server, path: &str) -> String {
        format!("http://localhost:{}{path}", s.port())
    }

    #[tokio::test]
    async fn the_guarded_client_never_connects_to_a_name_for_loopback() {
        let s = site("/go", "/page");
        let rig = guarded_rig();
        let client = Optout::client_builder(&rig.fetcher).build().unwrap();
        // On its own: the resolver refuses the name, nothing reaches the server.
        assert!(client.get(by_name(&s, "/page")).send().await.is_err());
        assert_eq!(s.total(), 0);
        // As the middleware's inner client: refused and recorded.
        let layered = layered(client, &rig.fetcher);
        let refused = layered.get(by_name(&s, "/page")).send().await.unwrap_err();
        assert!(
            refused.to_string().contains("network.private-address"),
            "{refused}"
        );
        assert_eq!(s.count("/page"), 0);
        // With a plain client too (the name resolves to loopback now).
        let plain = layered_plain(&rig);
        let refused = plain.get(by_name(&s, "/page")).send().await.unwrap_err();
        assert!(
            refused.to_string().contains("network.private-address"),
            "{refused}"
        );
        assert!(!refused.to_string().contains("hello"), "{refused}");
        assert_eq!(s.count("/page"), 0);
    }

    fn layered_plain(rig: &Rig) -> reqwest_middleware::ClientWithMiddleware {
        layered(plain_client(), &rig.fetcher)
    }
}
