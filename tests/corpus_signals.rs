//! Every real robots.txt, judged for purpose `train-ai` at its root URL through the same
//! pipeline as `optout check --robots FILE --purpose train-ai https://HOST/`, without an
//! error; prints how many files reserve AI training by each mechanism (the README's table).
//! Runs over `tests/data/robots/` always, and over the full corpus in `../shared` when present.

use optout::policy::crawlers::AiCrawlers;
use optout::policy::excluded::ExcludedDomains;
use optout::policy::judge::Judge;
use optout::policy::site::SitePolicy;
use optout::policy::{Code, Purpose, RobotsTxt, Verdict, parse_url};
use std::collections::BTreeMap;
use std::path::Path;

fn judge_dir(dir: &Path) -> (usize, BTreeMap<&'static str, usize>) {
    let crawlers = AiCrawlers::default();
    let excluded = ExcludedDomains::default();
    let judge = Judge {
        agent: "optout",
        purpose: Purpose::TrainAi,
        excluded: &excluded,
        ai_crawler_blocks: true,
    };
    let mut files = 0;
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let host = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap();
        let url = parse_url(&format!("https://{host}/")).expect("host names parse");
        let robots = RobotsTxt::parse(&bytes);
        let has_usage = robots
            .extension_lines()
            .iter()
            .any(|l| l.key.eq_ignore_ascii_case("content-usage"));
        let has_signal = robots
            .extension_lines()
            .iter()
            .any(|l| l.key.eq_ignore_ascii_case("content-signal"));
        let site = SitePolicy::new(Some(robots), None, None, &crawlers);
        let decision = judge.decide(&site, None, &url);
        assert!(!decision.reasons.is_empty(), "{host}");
        files += 1;
        let mut seen: Vec<Code> = decision.reasons.iter().map(|r| r.code).collect();
        seen.dedup();
        if decision.verdict == Verdict::Refused {
            *counts.entry("any mechanism (refused)").or_default() += 1;
            for code in seen {
                if matches!(
                    code,
                    Code::RobotsDisallow
                        | Code::RobotsAiCrawlerBlock
                        | Code::AiprefTrainAi
                        | Code::ContentSignalAiTrain
                ) {
                    *counts.entry(code.as_str()).or_default() += 1;
                }
            }
        }
        if has_usage {
            *counts.entry("has Content-Usage lines").or_default() += 1;
        }
        if has_signal {
            *counts.entry("has Content-Signal lines").or_default() += 1;
        }
    }
    (files, counts)
}

fn report(name: &str, dir: &Path) {
    let (files, counts) = judge_dir(dir);
    eprintln!("{name}: {files} files judged for train-ai at their root URL");
    for (what, n) in &counts {
        eprintln!("  {what:<32} {n:>5}");
    }
    assert!(files > 0);
}

#[test]
fn sample_files_judged_for_train_ai_without_error() {
    report(
        "tests/data/robots",
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/robots")),
    );
}

#[test]
fn corpus_judged_for_train_ai_without_error() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/robots"
    ));
    if !dir.exists() {
        eprintln!(
            "skipped: {} is absent (not a development checkout)",
            dir.display()
        );
        return;
    }
    report("corpus", dir);
}
