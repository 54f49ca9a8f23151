//! Every machine-readable opt-out, judged together for a purpose (`policy::judge`).

use optout::policy::aitxt::AiTxt;
use optout::policy::crawlers::AiCrawlers;
use optout::policy::excluded::ExcludedDomains;
use optout::policy::html::PageMeta;
use optout::policy::judge::{Asset, Judge};
use optout::policy::site::SitePolicy;
use optout::policy::tdmrep::TdmRepFile;
use optout::policy::{Code, Decision, Purpose, RobotsTxt, Verdict, parse_url};

struct Case {
    robots: Option<&'static str>,
    tdmrep: Option<&'static str>,
    aitxt: Option<&'static str>,
    headers: Vec<(&'static str, &'static str)>,
    html: Option<&'static str>,
    excluded: &'static str,
    agent: &'static str,
}

impl Default for Case {
    fn default() -> Case {
        Case {
            robots: None,
            tdmrep: None,
            aitxt: None,
            headers: Vec::new(),
            html: None,
            excluded: "",
            agent: "optout",
        }
    }
}

impl Case {
    fn decide(&self, purpose: Purpose, url: &str) -> Decision {
        let site = SitePolicy::new(
            self.robots.map(|r| RobotsTxt::parse(r.as_bytes())),
            self.tdmrep.map(|t| TdmRepFile::parse(t.as_bytes())),
            self.aitxt.map(|a| AiTxt::parse(a.as_bytes())),
            &AiCrawlers::default(),
        );
        let asset = (!self.headers.is_empty() || self.html.is_some()).then(|| Asset {
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            meta: self.html.map(|h| PageMeta::parse(h.as_bytes())),
        });
        let excluded = ExcludedDomains::parse(self.excluded).unwrap();
        let judge = Judge {
            agent: self.agent,
            purpose,
            excluded: &excluded,
            ai_crawler_blocks: true,
        };
        judge.decide(&site, asset.as_ref(), &parse_url(url).unwrap())
    }
}

fn codes(d: &Decision) -> Vec<&'static str> {
    d.reasons.iter().map(|r| r.code.as_str()).collect()
}

fn refused_by(d: &Decision, code: Code) -> bool {
    d.verdict == Verdict::Refused && d.reasons.iter().any(|r| r.code == code)
}

use Purpose::{AiInput, Search, TrainAi};

#[test]
fn robots_disallow_refuses_every_purpose() {
    let case = Case {
        robots: Some("User-agent: *\nDisallow: /private/\n"),
        ..Case::default()
    };
    for purpose in [TrainAi, AiInput, Search] {
        let d = case.decide(purpose, "https://e.com/private/x");
        assert!(refused_by(&d, Code::RobotsDisallow), "{purpose}");
        assert!(case.decide(purpose, "https://e.com/public").is_allowed());
    }
}

#[test]
fn aipref_attach_example_with_path_override() {
    let case = Case {
        robots: Some(
            "User-Agent: *\nAllow: /\nDisallow: /never/\nContent-Usage: train-ai=n\nContent-Usage: /ai-ok/ train-ai=y\n\nUser-Agent: ExampleBot\nAllow: /\nContent-Usage: train-ai=y\n",
        ),
        ..Case::default()
    };
    let d = case.decide(TrainAi, "https://e.com/test");
    assert!(refused_by(&d, Code::AiprefTrainAi));
    assert_eq!(d.reasons[0].line, Some(4));
    assert!(
        case.decide(TrainAi, "https://e.com/ai-ok/test")
            .is_allowed()
    );
    assert!(case.decide(Search, "https://e.com/test").is_allowed());
    assert!(case.decide(AiInput, "https://e.com/test").is_allowed());
    let d = case.decide(TrainAi, "https://e.com/never/test");
    assert!(refused_by(&d, Code::RobotsDisallow));
    let example_bot = Case {
        agent: "ExampleBot",
        ..case
    };
    assert!(
        example_bot
            .decide(TrainAi, "https://e.com/test")
            .is_allowed()
    );
}

#[test]
fn aipref_search_n_refuses_search_only() {
    let case = Case {
        robots: Some("User-agent: *\nContent-Usage: search=n\n"),
        ..Case::default()
    };
    assert!(refused_by(
        &case.decide(Search, "https://e.com/"),
        Code::AiprefSearch
    ));
    assert!(case.decide(TrainAi, "https://e.com/").is_allowed());
}

#[test]
fn aipref_conflicting_lines_for_one_path_combine_to_most_restrictive() {
    let case = Case {
        robots: Some(
            "User-agent: *\nContent-Usage: /a/ train-ai=y\nContent-Usage: /a/ train-ai=n\n",
        ),
        ..Case::default()
    };
    let d = case.decide(TrainAi, "https://e.com/a/b");
    assert!(refused_by(&d, Code::AiprefTrainAi));
    assert_eq!(d.reasons[0].line, Some(3));
}

#[test]
fn aipref_header_and_invalid_header_is_unknown() {
    let case = Case {
        headers: vec![("Content-Usage", "train-ai=n")],
        ..Case::default()
    };
    assert!(refused_by(
        &case.decide(TrainAi, "https://e.com/"),
        Code::AiprefTrainAi
    ));
    assert!(case.decide(Search, "https://e.com/").is_allowed());
    let bad = Case {
        headers: vec![("content-usage", "train-ai=n,,,((")],
        ..Case::default()
    };
    let d = bad.decide(TrainAi, "https://e.com/");
    assert!(d.is_allowed());
    assert!(codes(&d).contains(&"aipref.invalid"));
}

#[test]
fn content_signals_each_category() {
    let case = Case {
        robots: Some(
            "User-agent: *\nContent-Signal: search=yes, ai-train=no, ai-input=no\nAllow: /\n",
        ),
        ..Case::default()
    };
    let url = "https://e.com/page";
    assert!(refused_by(
        &case.decide(TrainAi, url),
        Code::ContentSignalAiTrain
    ));
    assert!(refused_by(
        &case.decide(AiInput, url),
        Code::ContentSignalAiInput
    ));
    assert!(case.decide(Search, url).is_allowed());
    let with_path = Case {
        robots: Some("User-agent: *\nContent-Signal: /blog/ ai-train=no\n"),
        ..Case::default()
    };
    assert!(with_path.decide(TrainAi, "https://e.com/").is_allowed());
    assert!(
        !with_path
            .decide(TrainAi, "https://e.com/blog/x")
            .is_allowed()
    );
}

#[test]
fn tdmrep_file_header_html_precedence() {
    let file = r#"[{"location":"/","tdm-reservation":1,"tdm-policy":"https://e.com/policy.json"}]"#;
    let only_file = Case {
        tdmrep: Some(file),
        ..Case::default()
    };
    let d = only_file.decide(TrainAi, "https://e.com/a");
    assert!(refused_by(&d, Code::TdmrepReserved));
    assert_eq!(
        d.reasons[0].policy.as_deref(),
        Some("https://e.com/policy.json")
    );
    assert_eq!(d.reasons[0].entry, Some(0));
    assert!(refused_by(
        &only_file.decide(AiInput, "https://e.com/a"),
        Code::TdmrepReserved
    ));
    assert!(only_file.decide(Search, "https://e.com/a").is_allowed());

    let header_lifts = Case {
        tdmrep: Some(file),
        headers: vec![("tdm-reservation", "0")],
        ..Case::default()
    };
    assert!(header_lifts.decide(TrainAi, "https://e.com/a").is_allowed());

    let html_reserves_again = Case {
        tdmrep: Some(file),
        headers: vec![("tdm-reservation", "0")],
        html: Some(
            r#"<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://e.com/p2">"#,
        ),
        ..Case::default()
    };
    let d = html_reserves_again.decide(TrainAi, "https://e.com/a");
    assert!(refused_by(&d, Code::TdmrepReserved));
    assert_eq!(d.reasons[0].source.as_deref(), Some("meta tdm-reservation"));
    assert_eq!(d.reasons[0].policy.as_deref(), Some("https://e.com/p2"));

    let html_without_values_does_not_reset = Case {
        tdmrep: Some(file),
        html: Some("<html><head><title>x</title></head></html>"),
        ..Case::default()
    };
    assert!(
        !html_without_values_does_not_reset
            .decide(TrainAi, "https://e.com/a")
            .is_allowed()
    );
}

#[test]
fn tdmrep_invalid_header_value_is_unset_and_said() {
    let case = Case {
        headers: vec![("tdm-reservation", "yes")],
        ..Case::default()
    };
    let d = case.decide(TrainAi, "https://e.com/");
    assert!(d.is_allowed());
    assert!(codes(&d).contains(&"tdmrep.invalid"));
}

#[test]
fn noai_in_header_and_meta_and_agent_scoping() {
    let header = Case {
        headers: vec![("X-Robots-Tag", "noindex, NOAI")],
        ..Case::default()
    };
    assert!(refused_by(
        &header.decide(TrainAi, "https://e.com/"),
        Code::TagsNoai
    ));
    assert!(header.decide(Search, "https://e.com/").is_allowed());
    assert!(header.decide(AiInput, "https://e.com/").is_allowed());

    let other_agent = Case {
        headers: vec![("X-Robots-Tag", "otherbot: noai")],
        ..Case::default()
    };
    assert!(other_agent.decide(TrainAi, "https://e.com/").is_allowed());
    let our_agent = Case {
        headers: vec![("X-Robots-Tag", "optout: noai")],
        ..Case::default()
    };
    assert!(!our_agent.decide(TrainAi, "https://e.com/").is_allowed());

    let meta = Case {
        html: Some(r#"<meta name="robots" content="noai, noimageai">"#),
        ..Case::default()
    };
    let d = meta.decide(TrainAi, "https://e.com/");
    assert!(refused_by(&d, Code::TagsNoai));
    assert_eq!(d.reasons[0].source.as_deref(), Some("meta robots"));
}

#[test]
fn noimageai_only_for_images() {
    let page = Case {
        headers: vec![("X-Robots-Tag", "noimageai"), ("Content-Type", "text/html")],
        ..Case::default()
    };
    assert!(page.decide(TrainAi, "https://e.com/a.html").is_allowed());
    let image = Case {
        headers: vec![
            ("X-Robots-Tag", "noimageai"),
            ("Content-Type", "image/jpeg"),
        ],
        ..Case::default()
    };
    assert!(refused_by(
        &image.decide(TrainAi, "https://e.com/a"),
        Code::TagsNoimageai
    ));
}

#[test]
fn aitxt_reserves_for_training_only() {
    let case = Case {
        aitxt: Some("User-Agent: *\nDisallow: *.jpg\nDisallow: /gallery/\n"),
        ..Case::default()
    };
    let d = case.decide(TrainAi, "https://e.com/img/cat.jpg");
    assert!(refused_by(&d, Code::AitxtDisallow));
    assert_eq!(d.reasons[0].source.as_deref(), Some("ai.txt"));
    assert!(
        case.decide(Search, "https://e.com/img/cat.jpg")
            .is_allowed()
    );
    assert!(case.decide(TrainAi, "https://e.com/page").is_allowed());
}

#[test]
fn rsl_license_is_recorded_not_decisive() {
    let case = Case {
        robots: Some("License: https://e.com/license.xml\nUser-agent: *\nAllow: /\n"),
        ..Case::default()
    };
    let d = case.decide(TrainAi, "https://e.com/");
    assert!(d.is_allowed());
    let license = d
        .reasons
        .iter()
        .find(|r| r.code == Code::RslLicense)
        .expect("license recorded");
    assert_eq!(license.policy.as_deref(), Some("https://e.com/license.xml"));
}

#[test]
fn ai_crawler_block_is_an_ai_training_opt_out() {
    let case = Case {
        robots: Some(
            "User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n\nUser-agent: Google-Extended\nDisallow: /news/\n",
        ),
        ..Case::default()
    };
    let d = case.decide(TrainAi, "https://e.com/news/1");
    assert_eq!(d.verdict, Verdict::Refused);
    let blocks: Vec<_> = d
        .reasons
        .iter()
        .filter(|r| r.code == Code::RobotsAiCrawlerBlock)
        .collect();
    assert_eq!(blocks.len(), 2, "{:?}", codes(&d));
    assert_eq!(blocks[0].line, Some(6));
    assert!(
        blocks[0].detail.as_deref().unwrap().contains("GPTBot")
            && blocks[0].detail.as_deref().unwrap().contains("CCBot")
    );
    assert_eq!(blocks[1].line, Some(9));
    assert!(case.decide(Search, "https://e.com/news/1").is_allowed());
    assert!(case.decide(AiInput, "https://e.com/news/1").is_allowed());
}

#[test]
fn ai_crawler_block_can_be_turned_off() {
    let robots = RobotsTxt::parse(b"User-agent: GPTBot\nDisallow: /\n");
    let site = SitePolicy::new(Some(robots), None, None, &AiCrawlers::default());
    let excluded = ExcludedDomains::default();
    let judge = Judge {
        agent: "optout",
        purpose: TrainAi,
        excluded: &excluded,
        ai_crawler_blocks: false,
    };
    let d = judge.decide(&site, None, &parse_url("https://e.com/").unwrap());
    assert!(d.is_allowed());
}

#[test]
fn excluded_domains_refuse_everything_on_label_boundaries() {
    let case = Case {
        robots: Some("User-agent: *\nAllow: /\n"),
        excluded: "pirate.example\n",
        ..Case::default()
    };
    for purpose in [TrainAi, AiInput, Search] {
        let d = case.decide(purpose, "https://cdn.pirate.example/x");
        assert!(refused_by(&d, Code::ExcludedDomain));
        assert_eq!(d.reasons[0].rule.as_deref(), Some("pirate.example"));
    }
    assert!(
        case.decide(TrainAi, "https://notpirate.example/")
            .is_allowed()
    );
}

#[test]
fn several_refusing_signals_are_all_listed() {
    let case = Case {
        robots: Some("User-agent: *\nDisallow: /x\nContent-Usage: train-ai=n\n"),
        tdmrep: Some(r#"[{"location":"/","tdm-reservation":1}]"#),
        headers: vec![("X-Robots-Tag", "noai")],
        ..Case::default()
    };
    let d = case.decide(TrainAi, "https://e.com/x");
    let c = codes(&d);
    for want in [
        "robots.disallow",
        "aipref.train-ai",
        "tdmrep.reserved",
        "tags.noai",
    ] {
        assert!(c.contains(&want), "{c:?}");
    }
}

#[test]
fn nothing_said_means_allowed_with_a_reason() {
    let d = Case::default().decide(TrainAi, "https://e.com/");
    assert!(d.is_allowed());
    assert_eq!(codes(&d), ["no-reservation"]);
}

mod hostile {
    //! The same property as the `signals` fuzz target, in CI: arbitrary tdmrep.json bytes,
    //! header values, HTML and robots.txt preference lines never panic, and every decision
    //! has a reason.
    use super::*;
    use proptest::prelude::*;

    fn texty() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            prop::collection::vec(
                prop_oneof![
                    Just("[".to_owned()),
                    Just("]".to_owned()),
                    Just("{\"location\":".to_owned()),
                    Just("\"tdm-reservation\":".to_owned()),
                    Just("\"/\"".to_owned()),
                    Just("1".to_owned()),
                    Just(",".to_owned()),
                    Just("}".to_owned()),
                    Just("train-ai=n".to_owned()),
                    Just("noai".to_owned()),
                    Just("otherbot:".to_owned()),
                    Just("<meta name=\"robots\" content=\"".to_owned()),
                    Just("\">".to_owned()),
                    Just("Content-Usage: ".to_owned()),
                    Just("Content-Signal: ".to_owned()),
                    Just("\n".to_owned()),
                    "[ -~]{0,8}",
                ],
                0..40
            )
            .prop_map(|parts| parts.concat()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn any_signals_decide_without_panic(
            robots in texty(),
            tdmrep in texty(),
            aitxt in texty(),
            header_name in prop::sample::select(vec!["X-Robots-Tag", "Content-Usage", "tdm-reservation", "tdm-policy", "Content-Type"]),
            header_value in texty(),
            html in texty(),
            path in "[ -~]{0,30}",
        ) {
            let site = SitePolicy::new(
                Some(RobotsTxt::parse(robots.as_bytes())),
                Some(TdmRepFile::parse(tdmrep.as_bytes())),
                Some(AiTxt::parse(aitxt.as_bytes())),
                &AiCrawlers::default(),
            );
            let asset = Asset {
                headers: vec![(header_name.to_owned(), header_value)],
                meta: Some(PageMeta::parse(html.as_bytes())),
            };
            let excluded = ExcludedDomains::default();
            if let Ok(url) = parse_url(&format!("https://e.com/{path}")) {
                for purpose in Purpose::ALL {
                    let judge = Judge { agent: "optout", purpose, excluded: &excluded, ai_crawler_blocks: true };
                    let d = judge.decide(&site, Some(&asset), &url);
                    prop_assert!(!d.reasons.is_empty());
                }
            }
        }
    }
}
