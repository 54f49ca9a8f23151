//! Unit tests for the compiled robots.txt, one per rule of RFC 9309 (named `rfc9309_*`) or
//! per Google behaviour kept on purpose (named `google_*`).

use super::*;
use crate::policy::{Code, Verdict};

fn decide(robots: &str, agent: &str, path: &str) -> Decision {
    RobotsTxt::parse(robots.as_bytes()).allowed_path(agent, path)
}

fn verdict(robots: &str, agent: &str, path: &str) -> Verdict {
    decide(robots, agent, path).verdict
}

use Verdict::{Allowed, Refused};

#[test]
fn rfc9309_2_2_1_agent_matching_is_case_insensitive() {
    let r = "User-agent: FooBot\nDisallow: /\n";
    assert_eq!(verdict(r, "foobot", "/x"), Refused);
    assert_eq!(verdict(r, "FOOBOT", "/x"), Refused);
    assert_eq!(verdict(r, "BarBot", "/x"), Allowed);
}

#[test]
fn rfc9309_2_2_1_groups_for_the_same_agent_are_merged() {
    let r = "User-agent: a\nDisallow: /x\n\nUser-agent: b\nDisallow: /\n\nUser-agent: a\nDisallow: /y\n";
    assert_eq!(verdict(r, "a", "/x"), Refused);
    assert_eq!(verdict(r, "a", "/y"), Refused);
    assert_eq!(verdict(r, "a", "/z"), Allowed);
}

#[test]
fn rfc9309_2_2_1_star_only_when_no_group_matches() {
    let r = "User-agent: *\nDisallow: /\n\nUser-agent: foo\nDisallow: /private\n";
    assert_eq!(verdict(r, "foo", "/public"), Allowed);
    assert_eq!(verdict(r, "other", "/public"), Refused);
}

#[test]
fn rfc9309_2_2_1_no_group_and_no_star_means_no_rules() {
    let d = decide("User-agent: foo\nDisallow: /\n", "bar", "/x");
    assert_eq!(d.verdict, Allowed);
    assert_eq!(d.reasons[0].code, Code::RobotsNoGroup);
    let d = decide("", "bar", "/x");
    assert_eq!(d.reasons[0].code, Code::RobotsNoGroup);
}

#[test]
fn rfc9309_2_1_last_group_without_rules_allows_everything() {
    let r = "User-agent: *\nDisallow: /\nUser-agent: foo\n";
    let d = decide(r, "foo", "/x");
    assert_eq!(d.verdict, Allowed);
    assert_eq!(d.reasons[0].code, Code::RobotsNoMatch);
}

#[test]
fn rfc9309_2_2_2_longest_match_wins() {
    let r = "User-agent: *\nDisallow: /x/page.html\nAllow: /x/\n";
    assert_eq!(verdict(r, "a", "/x/page.html"), Refused);
    assert_eq!(verdict(r, "a", "/x/other"), Allowed);
}

#[test]
fn rfc9309_2_2_2_allow_wins_a_tie() {
    let r = "User-agent: *\nDisallow: /folder\nAllow: /folder\n";
    let d = decide(r, "a", "/folder/page");
    assert_eq!(d.verdict, Allowed);
    assert_eq!(d.reasons[0].line, Some(3));
}

#[test]
fn rfc9309_2_2_2_paths_are_case_sensitive() {
    assert_eq!(
        verdict("User-agent: *\nDisallow: /X/\n", "a", "/x/y"),
        Allowed
    );
}

#[test]
fn rfc9309_2_2_2_robots_txt_is_implicitly_allowed() {
    let d = decide("User-agent: *\nDisallow: /\n", "a", "/robots.txt");
    assert_eq!(d.verdict, Allowed);
    assert_eq!(d.reasons[0].code, Code::RobotsImplicitAllow);
    assert_eq!(
        verdict("User-agent: *\nDisallow: /\n", "a", "/robots.txt.bak"),
        Refused
    );
}

#[test]
fn rfc9309_2_2_2_empty_disallow_restricts_nothing() {
    let d = decide("User-agent: *\nDisallow:\n", "a", "/x");
    assert_eq!(d.verdict, Allowed);
    assert_eq!(d.reasons[0].code, Code::RobotsNoMatch);
}

#[test]
fn rfc9309_2_2_2_rules_before_any_group_are_ignored() {
    let robots = RobotsTxt::parse(b"Disallow: /\nUser-agent: a\nDisallow: /x\n");
    assert_eq!(robots.allowed_path("a", "/y").verdict, Allowed);
    assert_eq!(robots.rules_outside_groups(), 1);
}

#[test]
fn rfc9309_2_2_2_figure4_percent_encoding_both_sides() {
    let r = "User-agent: *\nDisallow: /\nAllow: /foo/bar?baz=https://foo.bar\nAllow: /a/ツ\nAllow: /b/%62%61%7A\n";
    // Reserved octets: an escape and the literal are equal only on the careful side.
    let d = "User-agent: *\nDisallow: /foo/bar?baz=https://foo.bar\n";
    assert_eq!(
        verdict(d, "x", "/foo/bar?baz=https%3A%2F%2Ffoo.bar"),
        Refused
    );
    assert_eq!(
        verdict(r, "x", "/foo/bar?baz=https%3A%2F%2Ffoo.bar"),
        Refused
    );
    assert_eq!(verdict(r, "x", "/foo/bar?baz=https://foo.bar"), Allowed);
    assert_eq!(verdict(r, "x", "/a/%E3%83%84"), Allowed);
    assert_eq!(verdict(r, "x", "/a/%e3%83%84"), Allowed);
    assert_eq!(verdict(r, "x", "/b/baz"), Allowed);
    assert_eq!(verdict(r, "x", "/b/%62az"), Allowed);
    assert_eq!(verdict(r, "x", "/b/bar"), Refused);
}

#[test]
fn encoded_reserved_octets_never_widen_an_allow() {
    let r = "User-agent: *\nDisallow: /\nAllow: /public/\nAllow: /page?\n";
    assert_eq!(verdict(r, "x", "/public%2F..%2Fadmin"), Refused);
    assert_eq!(verdict(r, "x", "/page%3Fx"), Refused);
    assert_eq!(verdict(r, "x", "/public/x"), Allowed);
    let d = decide(r, "x", "/robots.txt%3Fx");
    assert_eq!(d.verdict, Refused);
    assert_eq!(
        decide(r, "x", "/%72obots.txt").reasons[0].code,
        Code::RobotsImplicitAllow
    );
}

#[test]
fn encoded_reserved_octets_never_escape_a_disallow() {
    let r = "User-agent: *\nDisallow: /private/\nDisallow: /a%2Fb\n";
    assert_eq!(verdict(r, "x", "/private%2Fsecret"), Refused);
    assert_eq!(verdict(r, "x", "/a/b"), Refused);
    assert_eq!(verdict(r, "x", "/a%2fb"), Refused);
}

#[test]
fn rfc9309_2_2_2_non_ascii_url_is_encoded_before_matching() {
    let robots = RobotsTxt::parse("User-agent: *\nDisallow: /café\n".as_bytes());
    let url = Url::parse("http://example.com/café/menu").unwrap();
    assert_eq!(robots.allowed("x", &url).verdict, Refused);
}

#[test]
fn rfc9309_2_2_3_special_characters() {
    let r = "User-agent: *\nDisallow: /*.gif$\nDisallow: /a/*/c\nAllow: /$\nDisallow: /\n";
    assert_eq!(verdict(r, "x", "/"), Allowed);
    assert_eq!(verdict(r, "x", "/img/x.gif"), Refused);
    assert_eq!(verdict(r, "x", "/a/b/c"), Refused);
}

#[test]
fn rfc9309_2_2_3_comments_are_stripped() {
    let r = "User-agent: * # everyone\nDisallow: /foo/quz#qux\n# Disallow: /\n";
    assert_eq!(verdict(r, "x", "/foo/quz"), Refused);
    assert_eq!(verdict(r, "x", "/bar"), Allowed);
}

#[test]
fn rfc9309_2_2_4_sitemap_and_unknown_lines_do_not_end_a_group() {
    // robotstxt 0.3.0's DefaultMatcher leaves FooBot unrestricted here.
    let r =
        "User-agent: FooBot\nSitemap: https://example.com/s.xml\nUser-agent: BarBot\nDisallow: /\n";
    assert_eq!(verdict(r, "FooBot", "/x"), Refused);
    let r = "User-agent: FooBot\nCrawl-delay: 5\nUser-agent: BarBot\nDisallow: /\n";
    assert_eq!(verdict(r, "FooBot", "/x"), Refused);
}

#[test]
fn rfc9309_2_5_parse_limit_truncates_and_says_so() {
    let mut body = String::from("User-agent: *\nDisallow: /a\n");
    body.push_str(&"# padding\n".repeat(60_000));
    body.push_str("Disallow: /b\n");
    let robots = RobotsTxt::parse(body.as_bytes());
    assert!(robots.is_truncated());
    let d = robots.allowed_path("x", "/b");
    assert_eq!(d.verdict, Allowed);
    assert!(d.reasons.iter().any(|r| r.code == Code::RobotsTruncated));
    assert_eq!(robots.allowed_path("x", "/a").verdict, Refused);
    assert!(!RobotsTxt::parse_with_limit(body.as_bytes(), usize::MAX).is_truncated());
}

#[test]
fn google_accepted_typos_and_missing_colon() {
    assert_eq!(verdict("User-agent: *\nDisalow: /\n", "x", "/a"), Refused);
    assert_eq!(verdict("User-agent: *\nDissallow: /\n", "x", "/a"), Refused);
    assert_eq!(
        verdict("user-agent foo\ndisallow /\n", "foo", "/a"),
        Refused
    );
}

#[test]
fn google_bom_is_skipped() {
    let robots = RobotsTxt::parse(b"\xEF\xBB\xBFUser-agent: foo\nDisallow: /\n");
    assert_eq!(robots.allowed_path("foo", "/x").verdict, Refused);
}

#[test]
fn google_line_endings_cr_lf_crlf() {
    for eol in ["\n", "\r", "\r\n"] {
        let r = format!("User-agent: *{eol}Allow: /a{eol}Disallow: /{eol}");
        let d = decide(&r, "x", "/b");
        assert_eq!(d.verdict, Refused, "{eol:?}");
        assert_eq!(d.reasons[0].line, Some(3), "{eol:?}");
    }
}

#[test]
fn invalid_utf8_is_decoded_lossily_and_noted() {
    let robots = RobotsTxt::parse(b"User-agent: *\nDisallow: /caf\xE9\nDisallow: /x\n");
    assert!(robots.had_invalid_utf8());
    let d = robots.allowed_path("a", "/x");
    assert_eq!(d.verdict, Refused);
    assert!(d.reasons.iter().any(|r| r.code == Code::RobotsInvalidUtf8));
}

#[test]
fn robotstxt_0_3_0_panic_long_multibyte_line_parses_and_rules_apply() {
    let long = "ü".repeat(10_000);
    let r = format!("User-agent: *\nDisallow: /{long}\nDisallow: /private\n");
    let robots = RobotsTxt::parse(r.as_bytes());
    assert_eq!(robots.allowed_path("a", "/private/x").verdict, Refused);
    let d = robots.allowed_path("a", "/private");
    assert_eq!(d.reasons[0].line, Some(3));
}

#[test]
fn robotstxt_0_3_0_invalid_percent_is_kept_literally() {
    // The crate's escaper drops the two octets after a stray '%'.
    let r = "User-agent: *\nDisallow: /100%/é\n";
    assert_eq!(verdict(r, "a", "/100%25/%C3%A9"), Refused);
    assert_eq!(verdict(r, "a", "/100"), Allowed);
}

#[test]
fn reason_names_line_rule_and_group_agents() {
    let r = "User-agent: a\nUser-agent: b\nAllow: /x\nDisallow: /\n";
    let d = decide(r, "B", "/y");
    let reason = &d.reasons[0];
    assert_eq!(reason.code, Code::RobotsDisallow);
    assert_eq!(reason.line, Some(4));
    assert_eq!(reason.rule.as_deref(), Some("/"));
    assert_eq!(reason.agents.as_deref().unwrap(), ["a".into(), "b".into()]);
}

#[test]
fn crawl_delay_sitemaps_and_extension_lines_are_kept() {
    let r = "Sitemap: https://e.com/s.xml\nUser-agent: *\nCrawl-delay: 2.5\nContent-Usage: train-ai=n\nDisallow: /x\nUser-agent: slow\nCrawl-delay: 10\nCrawl-delay: abc\n";
    let robots = RobotsTxt::parse(r.as_bytes());
    assert_eq!(robots.sitemaps(), [(1, "https://e.com/s.xml".to_owned())]);
    assert_eq!(
        robots.crawl_delay("a"),
        Some(CrawlDelay {
            seconds: 2.5,
            line: 3
        })
    );
    assert_eq!(robots.crawl_delay("slow").unwrap().seconds, 10.0);
    let ext = robots.extension_lines();
    assert_eq!(ext[0].line, 4);
    assert_eq!(&*ext[0].key, "Content-Usage");
    assert_eq!(&*ext[0].value, "train-ai=n");
    assert_eq!(ext[0].group, Some(0));
    assert_eq!(&*ext[1].key, "Crawl-delay");
    assert_eq!(&*ext[1].value, "abc");
}

#[test]
fn hostile_many_agents_times_many_rules_stays_small() {
    let mut r = String::new();
    for i in 0..5_000 {
        r.push_str(&format!("User-agent: bot{}\n", "x".repeat(i % 50 + 1)));
    }
    for i in 0..5_000 {
        r.push_str(&format!("Disallow: /p{i}\n"));
    }
    let robots = RobotsTxt::parse(r.as_bytes());
    assert_eq!(robots.allowed_path("botx", "/p4999").verdict, Refused);
}

#[test]
fn no_match_reason_names_the_selecting_agent_lines_only() {
    // A hostile file: thousands of agents in the groups that apply. The reason names the
    // line(s) that selected the groups, not every agent of every group.
    let mut r = String::new();
    for n in 0..3_000 {
        r.push_str(&format!(
            "User-agent: x\nUser-agent: b{}\nDisallow: /q\n",
            "z".repeat(n % 40)
        ));
    }
    let d = RobotsTxt::parse(r.as_bytes()).allowed_path("X", "/a");
    assert_eq!(d.reasons[0].code, Code::RobotsNoMatch);
    assert_eq!(d.reasons[0].agents.as_deref().unwrap(), ["x".into()]);
    let d = decide("User-agent: *\nDisallow: /q\n", "other", "/a");
    assert_eq!(d.reasons[0].agents.as_deref().unwrap(), ["*".into()]);
}
