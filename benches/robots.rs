//! robots.txt benchmark: optout's compiled matcher against `robotstxt` (Google's matcher,
//! ported) and `texting_robots`, on the same corpus files and the same URLs.
//!
//! Two groups:
//! - `decision`: time per allow/disallow decision. optout and `texting_robots` build their
//!   matcher once per file (and, for `texting_robots`, per agent); `DefaultMatcher` re-parses
//!   the file for every query, which is the only way that crate answers.
//! - `parse`: parse (+ compile) time of the whole corpus.
//!
//! Run with `cargo bench --bench robots`. Each benchmark iteration is a whole workload; the
//! summary printed at the end divides criterion's median by the workload size and prints
//! the ratios between implementations.
//!
//! The corpus is `../shared/corpus/robots` next to the crate when it exists, else the sample
//! in `tests/data/robots`. File name = host.

#[path = "support/criterion_results.rs"]
mod criterion_results;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use criterion_results::median_ns;
use optout::policy::Purpose;
use optout::policy::RobotsTxt;
use optout::policy::crawlers::AiCrawlers;
use optout::policy::excluded::ExcludedDomains;
use optout::policy::judge::Judge;
use optout::policy::robots::DEFAULT_PARSE_LIMIT;
use optout::policy::site::SitePolicy;
use std::borrow::Cow;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use url::Url;

const SHARED_CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/robots");
const SAMPLE_CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/robots");

/// Files on which `robotstxt` 0.3.0 panics (long lines with multi-byte characters); they are
/// left out of every comparison, optout included, so that all sides see the same files.
const ROBOTSTXT_PANICS: &[&str] = &[
    "aac.unicode.org",
    "caigou.1688.com",
    "cloud.51cto.com",
    "dispute.1688.com",
    "feature.yahoo.com.tw",
    "www.force.com",
    "www.westinstore.cn",
];

/// How many files the decision workload uses, and URLs per file.
const DECISION_FILES: usize = 200;
const URLS_PER_FILE: usize = 10;
const AGENTS: &[&str] = &["GPTBot", "Googlebot"];

/// Paths used when a file has fewer rules than URL slots.
const FILLER_PATHS: &[&str] = &[
    "/index.html",
    "/search?q=robots+txt",
    "/blog/2024/01/some-post-title",
    "/images/logo.png",
    "/wp-admin/admin-ajax.php",
    "/api/v1/items?id=42&sort=desc",
    "/products/category/shoes?page=2",
    "/about/",
    "/user/profile/settings",
];

struct CorpusFile {
    host: String,
    bytes: Vec<u8>,
}

fn load_corpus() -> (PathBuf, Vec<CorpusFile>) {
    let dir = if Path::new(SHARED_CORPUS).is_dir() {
        PathBuf::from(SHARED_CORPUS)
    } else {
        PathBuf::from(SAMPLE_CORPUS)
    };
    let mut files: Vec<CorpusFile> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| {
            let host = entry.file_name().into_string().ok()?;
            let bytes = std::fs::read(entry.path()).ok()?;
            Some(CorpusFile { host, bytes })
        })
        .collect();
    files.sort_by(|a, b| a.host.cmp(&b.host));
    (dir, files)
}

/// The bytes optout reads under its default parse limit: the file cut at the limit, back to
/// the last line end (as `RobotsTxt::parse` does). The baselines get the same bytes, so that
/// no side parses megabytes the other ignores.
fn within_parse_limit(bytes: &[u8]) -> &[u8] {
    if bytes.len() <= DEFAULT_PARSE_LIMIT {
        return bytes;
    }
    let cut = &bytes[..DEFAULT_PARSE_LIMIT];
    let keep = cut
        .iter()
        .rposition(|&b| b == b'\n' || b == b'\r')
        .map_or(0, |i| i + 1);
    &cut[..keep]
}

/// The `Allow`/`Disallow` values of a file, in file order, read loosely (enough to make URLs
/// that hit the file's own rules).
fn rule_paths(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        if !(key.eq_ignore_ascii_case("allow") || key.eq_ignore_ascii_case("disallow")) {
            continue;
        }
        let value = value.trim();
        if value.starts_with('/') && value.len() > 1 && !out.iter().any(|p| p == value) {
            out.push(value.to_owned());
        }
    }
    out
}

/// `URLS_PER_FILE` paths for one file: `/`, then for up to three of the file's rules (first,
/// middle, last) a path the rule matches (`*` filled in, `$` dropped), a longer path under it
/// and the same with a query; filler paths for the slots left.
fn paths_for(text: &str) -> Vec<String> {
    let rules = rule_paths(text);
    let mut picked: Vec<&str> = Vec::new();
    if !rules.is_empty() {
        for i in [0, rules.len() / 2, rules.len() - 1] {
            if !picked.contains(&rules[i].as_str()) {
                picked.push(&rules[i]);
            }
        }
    }
    let mut paths = vec!["/".to_owned()];
    for rule in picked {
        let body = rule.strip_suffix('$').unwrap_or(rule).replace('*', "x");
        let sep = if body.ends_with('/') { "" } else { "/" };
        let longer = format!("{body}{sep}sub/page.html");
        let query = if body.contains('?') { "&q=1" } else { "?q=1" };
        let with_query = format!("{longer}{query}");
        paths.extend([body, longer, with_query]);
    }
    let mut filler = FILLER_PATHS.iter().cycle();
    while paths.len() < URLS_PER_FILE {
        paths.push((*filler.next().unwrap_or(&"/")).to_owned());
    }
    paths.truncate(URLS_PER_FILE);
    paths
}

/// One corpus file of the decision workload, compiled by each implementation.
struct Case {
    optout: RobotsTxt,
    /// The same file with every signal compiled (Content-Usage, Content-Signal, License,
    /// AI-crawler blocks), for the judge.
    site: SitePolicy,
    /// The text as `DefaultMatcher` takes it.
    body: String,
    /// `texting_robots` builds one matcher per agent, in `AGENTS` order.
    texting: Vec<texting_robots::Robot>,
    /// Each URL parsed, and as a string (the parsed URL's serialisation, so that every side
    /// gets the same, %-encoded, URL).
    urls: Vec<(Url, String)>,
    /// `path?query` of each URL, for `allowed_path`.
    paths: Vec<String>,
}

impl Case {
    fn build(file: &CorpusFile) -> Option<Case> {
        let bytes = within_parse_limit(&file.bytes);
        if bytes.len() != file.bytes.len() {
            return None;
        }
        let texting = AGENTS
            .iter()
            .map(|agent| {
                std::panic::catch_unwind(|| texting_robots::Robot::new(agent, bytes))
                    .ok()?
                    .ok()
            })
            .collect::<Option<Vec<_>>>()?;
        let body = String::from_utf8_lossy(bytes).into_owned();
        let urls: Vec<(Url, String)> = paths_for(&body)
            .iter()
            .filter_map(|path| {
                let url = Url::parse(&format!("https://{}{path}", file.host)).ok()?;
                let text = url.as_str().to_owned();
                Some((url, text))
            })
            .collect();
        if urls.len() != URLS_PER_FILE {
            return None;
        }
        let paths = urls
            .iter()
            .map(|(url, _)| url[url::Position::BeforePath..url::Position::AfterQuery].to_owned())
            .collect();
        let optout = RobotsTxt::parse(bytes);
        Some(Case {
            site: SitePolicy::new(Some(optout.clone()), None, None, &AiCrawlers::default()),
            optout,
            body,
            texting,
            urls,
            paths,
        })
    }
}

/// `DECISION_FILES` files spread over the size range: the eligible files sorted by size, taken
/// at evenly spaced ranks. Eligible: not a `robotstxt` panic, within optout's parse limit
/// (so every side reads the same rules), accepted by `texting_robots`, and with a host that
/// makes a valid URL.
fn decision_workload(corpus: &[CorpusFile]) -> Vec<Case> {
    let mut eligible: Vec<(usize, Case)> = corpus
        .iter()
        .filter(|f| !ROBOTSTXT_PANICS.contains(&f.host.as_str()))
        .filter_map(|f| Some((f.bytes.len(), Case::build(f)?)))
        .collect();
    eligible.sort_by_key(|(size, _)| *size);
    let n = eligible.len();
    let want = DECISION_FILES.min(n);
    let ranks: Vec<usize> = (0..want)
        .map(|i| {
            if want > 1 {
                i * (n - 1) / (want - 1)
            } else {
                0
            }
        })
        .collect();
    let mut cases = Vec::with_capacity(want);
    for (rank, (_, case)) in eligible.into_iter().enumerate() {
        if ranks.binary_search(&rank).is_ok() {
            cases.push(case);
        }
    }
    cases
}

fn queries(cases: &[Case]) -> usize {
    cases.iter().map(|c| c.urls.len()).sum::<usize>() * AGENTS.len()
}

/// How often the baselines agree with optout on the workload (a check that every side does
/// the same job; the implementations differ on purpose in places).
fn print_agreement(cases: &[Case]) {
    let mut matcher = robotstxt::DefaultMatcher::default();
    let (mut google, mut texting, mut total) = (0, 0, 0);
    for case in cases {
        for (a, agent) in AGENTS.iter().enumerate() {
            for (url, text) in &case.urls {
                let ours = case.optout.allowed(agent, url).is_allowed();
                google += usize::from(
                    matcher.one_agent_allowed_by_robots(&case.body, agent, text) == ours,
                );
                texting += usize::from(case.texting[a].allowed(text) == ours);
                total += 1;
            }
        }
    }
    println!(
        "agreement with optout: DefaultMatcher {google}/{total}, texting_robots {texting}/{total}"
    );
}

fn bench_decisions(c: &mut Criterion, cases: &[Case]) {
    let n = queries(cases);
    let mut group = c.benchmark_group("decision");
    group.throughput(Throughput::Elements(n as u64));

    group.bench_function("optout_url", |b| {
        b.iter(|| {
            let mut refused = 0usize;
            for case in cases {
                for agent in AGENTS {
                    for (url, _) in &case.urls {
                        refused +=
                            usize::from(!case.optout.allowed(agent, black_box(url)).is_allowed());
                    }
                }
            }
            refused
        })
    });
    let excluded = ExcludedDomains::default();
    group.bench_function("optout_judge_train_ai", |b| {
        b.iter(|| {
            let mut refused = 0usize;
            for case in cases {
                for agent in AGENTS {
                    let judge = Judge {
                        agent,
                        purpose: Purpose::TrainAi,
                        excluded: &excluded,
                        ai_crawler_blocks: true,
                    };
                    for (url, _) in &case.urls {
                        refused += usize::from(
                            !judge.decide(&case.site, None, black_box(url)).is_allowed(),
                        );
                    }
                }
            }
            refused
        })
    });
    group.bench_function("optout_str", |b| {
        b.iter(|| {
            let mut refused = 0usize;
            for case in cases {
                for agent in AGENTS {
                    for (_, text) in &case.urls {
                        let url = Url::parse(black_box(text)).expect("valid URL");
                        refused += usize::from(!case.optout.allowed(agent, &url).is_allowed());
                    }
                }
            }
            refused
        })
    });
    group.bench_function("optout_path", |b| {
        b.iter(|| {
            let mut refused = 0usize;
            for case in cases {
                for agent in AGENTS {
                    for path in &case.paths {
                        refused += usize::from(
                            !case
                                .optout
                                .allowed_path(agent, black_box(path))
                                .is_allowed(),
                        );
                    }
                }
            }
            refused
        })
    });
    group.bench_function("texting_robots", |b| {
        b.iter(|| {
            let mut refused = 0usize;
            for case in cases {
                for robot in &case.texting {
                    for (_, text) in &case.urls {
                        refused += usize::from(!robot.allowed(black_box(text)));
                    }
                }
            }
            refused
        })
    });
    group.bench_function("robotstxt_default_matcher", |b| {
        let mut matcher = robotstxt::DefaultMatcher::default();
        b.iter(|| {
            let mut refused = 0usize;
            for case in cases {
                for agent in AGENTS {
                    for (_, text) in &case.urls {
                        refused += usize::from(!matcher.one_agent_allowed_by_robots(
                            black_box(&case.body),
                            agent,
                            text,
                        ));
                    }
                }
            }
            refused
        })
    });
    group.finish();
}

/// A `robotstxt` parse handler that does nothing: the cost of the line parser alone.
struct NoOp;

impl robotstxt::RobotsParseHandler for NoOp {
    fn handle_robots_start(&mut self) {}
    fn handle_robots_end(&mut self) {}
    fn handle_user_agent(&mut self, _: u32, _: &str) {}
    fn handle_allow(&mut self, _: u32, _: &str) {}
    fn handle_disallow(&mut self, _: u32, _: &str) {}
    fn handle_sitemap(&mut self, _: u32, _: &str) {}
    fn handle_unknown_action(&mut self, _: u32, _: &str, _: &str) {}
}

/// The parse workload: every corpus file but the `robotstxt` panics, as optout reads it
/// (within the parse limit); `texts` is the same, decoded for `robotstxt` (which takes `&str`).
struct ParseWorkload<'a> {
    bytes: Vec<&'a [u8]>,
    texts: Vec<Cow<'a, str>>,
    total_bytes: usize,
    truncated: usize,
}

fn parse_workload(corpus: &[CorpusFile]) -> ParseWorkload<'_> {
    let kept: Vec<&CorpusFile> = corpus
        .iter()
        .filter(|f| !ROBOTSTXT_PANICS.contains(&f.host.as_str()))
        .collect();
    let bytes: Vec<&[u8]> = kept.iter().map(|f| within_parse_limit(&f.bytes)).collect();
    let truncated = kept
        .iter()
        .zip(&bytes)
        .filter(|(f, b)| f.bytes.len() != b.len())
        .count();
    ParseWorkload {
        texts: bytes.iter().map(|b| String::from_utf8_lossy(b)).collect(),
        total_bytes: bytes.iter().map(|b| b.len()).sum(),
        truncated,
        bytes,
    }
}

fn bench_parse(c: &mut Criterion, work: &ParseWorkload<'_>) {
    let mut group = c.benchmark_group("parse");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(work.total_bytes as u64));

    group.bench_function("optout_parse_compile", |b| {
        b.iter(|| {
            let mut rules = 0usize;
            for bytes in &work.bytes {
                let robots = RobotsTxt::parse(black_box(bytes));
                rules += robots.groups().len();
            }
            rules
        })
    });
    group.bench_function("robotstxt_parse_only", |b| {
        b.iter(|| {
            for text in &work.texts {
                robotstxt::parse_robotstxt(black_box(text), &mut NoOp);
            }
        })
    });
    group.bench_function(BenchmarkId::new("texting_robots_new", AGENTS[0]), |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for bytes in &work.bytes {
                ok += usize::from(texting_robots::Robot::new(AGENTS[0], black_box(bytes)).is_ok());
            }
            ok
        })
    });
    group.finish();
}

fn print_summary(since: SystemTime, decisions: usize, parse_bytes: usize) {
    let per = |id: &str| median_ns("decision", id, since).map(|ns| ns / decisions as f64);
    let ours = per("optout_url");
    println!("\n== summary (criterion medians) ==");
    println!("decision: {decisions} decisions per iteration");
    for id in [
        "optout_url",
        "optout_judge_train_ai",
        "optout_str",
        "optout_path",
        "texting_robots",
        "robotstxt_default_matcher",
    ] {
        if let Some(ns) = per(id) {
            let ratio = ours.map_or(String::new(), |o| format!("  ({:.1}x optout_url)", ns / o));
            println!("  {id:<28}{ns:>12.1} ns/decision{ratio}");
        }
    }
    if let (Some(url), Some(s), Some(google), Some(texting)) = (
        ours,
        per("optout_str"),
        per("robotstxt_default_matcher"),
        per("texting_robots"),
    ) {
        println!(
            "  DefaultMatcher / optout: {:.0}x (Url pre-parsed), {:.0}x (URL string parsed per query)",
            google / url,
            google / s
        );
        println!(
            "  texting_robots / optout: {:.2}x (Url pre-parsed), {:.2}x (URL string parsed per query)",
            texting / url,
            texting / s
        );
    }
    if let (Some(url), Some(judge)) = (ours, per("optout_judge_train_ai")) {
        println!(
            "  all signals (judge, train-ai) / robots.txt only: {:.2}x",
            judge / url
        );
    }
    let parse = |id: &str| median_ns("parse", id, since);
    println!("parse: {parse_bytes} bytes per iteration");
    for id in [
        "optout_parse_compile",
        "robotstxt_parse_only",
        "texting_robots_new/GPTBot",
    ] {
        if let Some(ns) = parse(id) {
            println!(
                "  {id:<28}{:>12.2} ms/corpus {:>8.1} MB/s",
                ns / 1e6,
                parse_bytes as f64 / ns * 1e3
            );
        }
    }
    if let (Some(ours), Some(google)) =
        (parse("optout_parse_compile"), parse("robotstxt_parse_only"))
    {
        println!(
            "  optout parse+compile / robotstxt parse-only: {:.2}x",
            ours / google
        );
    }
}

fn main() {
    let started = SystemTime::now();
    let (dir, corpus) = load_corpus();
    println!("corpus: {} ({} files)", dir.display(), corpus.len());

    let cases = decision_workload(&corpus);
    let decisions = queries(&cases);
    let mut sizes: Vec<usize> = cases.iter().map(|c| c.body.len()).collect();
    sizes.sort_unstable();
    println!(
        "decision workload: {} files (sizes {}..{} bytes, median {}, total {}), {} URLs each, agents {:?}: {} decisions",
        cases.len(),
        sizes.first().unwrap_or(&0),
        sizes.last().unwrap_or(&0),
        sizes.get(sizes.len() / 2).unwrap_or(&0),
        sizes.iter().sum::<usize>(),
        URLS_PER_FILE,
        AGENTS,
        decisions
    );
    print_agreement(&cases);

    let work = parse_workload(&corpus);
    println!(
        "parse workload: {} files, {} bytes ({} files cut at the {} byte parse limit, for every side)",
        work.bytes.len(),
        work.total_bytes,
        work.truncated,
        DEFAULT_PARSE_LIMIT
    );

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_decisions(&mut c, &cases);
    bench_parse(&mut c, &work);
    c.final_summary();
    print_summary(started, decisions, work.total_bytes);
}
