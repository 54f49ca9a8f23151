//! Unit tests for the compiled robots.txt, one per rule of RFC 9309 (named `rfc9309_*`) or
//! per Google behaviour kept on purpose (named `google_*`).

use super::*;
use crate::{Code, Verdict};

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

/// A robots.txt in Latin-1 (not UTF-8): `bytes` is the file, `url` a URL as a browser sends it.
fn latin1(bytes: &[u8], url: &str) -> Decision {
    let url = crate::parse_url(url).unwrap();
    RobotsTxt::parse(bytes).allowed("x", &url)
}

#[test]
fn rfc9309_2_2_2_latin1_disallow_matches_the_utf8_url_and_the_octets() {
    let file = b"User-agent: *\nDisallow: /\xFCber/\n";
    let d = latin1(file, "https://e.example/\u{fc}ber/x");
    assert_eq!(d.verdict, Refused, "{d:?}");
    assert_eq!(d.reasons[0].rule.as_deref(), Some("/\u{fc}ber/"));
    assert!(d.reasons.iter().any(|r| r.code == Code::RobotsInvalidUtf8));
    assert_eq!(
        latin1(file, "https://e.example/%c3%bcber/").verdict,
        Refused
    );
    // The octets' own reading: a server that names its files in Latin-1.
    assert_eq!(latin1(file, "https://e.example/%FCber/x").verdict, Refused);
    assert_eq!(latin1(file, "https://e.example/uber/x").verdict, Allowed);
}

#[test]
fn rfc9309_2_2_2_latin1_cafe_without_slash() {
    let file = b"User-agent: *\nDisallow: /caf\xE9\n";
    for url in ["/caf\u{e9}", "/caf%C3%A9/menu", "/caf%E9", "/caf%e9s"] {
        let d = latin1(file, &format!("https://e.example{url}"));
        assert_eq!(d.verdict, Refused, "{url}");
    }
    assert_eq!(latin1(file, "https://e.example/cafe").verdict, Allowed);
    assert_eq!(
        RobotsTxt::parse(file)
            .allowed_path("x", "/caf\u{e9}")
            .verdict,
        Refused
    );
}

#[test]
fn rfc9309_2_2_2_mixed_file_reads_each_line_in_its_own_encoding() {
    // Line 2 is UTF-8, line 3 Latin-1; line 4 names an agent in a Latin-1 comment.
    let file = b"User-agent: *\nDisallow: /\xC3\xBCber/\nDisallow: /caf\xE9\nUser-agent: b # \xE9\nDisallow: /b\n";
    let robots = RobotsTxt::parse(file);
    assert!(robots.had_invalid_utf8());
    let at = |path: &str| robots.allowed_path("x", path);
    assert_eq!(at("/%C3%BCber/").reasons[0].line, Some(2));
    assert_eq!(at("/%C3%BCber/").verdict, Refused);
    assert_eq!(at("/caf%C3%A9").reasons[0].line, Some(3));
    assert_eq!(at("/caf%E9").verdict, Refused);
    // The UTF-8 line is not read as Windows-1252: its mojibake is no rule.
    assert_eq!(at("/%C3%83%C2%BCber/").verdict, Allowed);
    assert_eq!(robots.allowed_path("b", "/b").reasons[0].line, Some(5));
}

#[test]
fn rfc9309_2_2_2_utf8_file_is_read_as_before() {
    let robots = RobotsTxt::parse("User-agent: *\nDisallow: /über/\n".as_bytes());
    assert!(!robots.had_invalid_utf8());
    let d = robots.allowed_path("x", "/%C3%BCber/");
    assert_eq!(d.verdict, Refused);
    assert_eq!(d.reasons.len(), 1);
    assert_eq!(robots.allowed_path("x", "/%FCber/").verdict, Allowed);
    assert_eq!(
        robots.allowed_path("x", "/%C3%83%C2%BCber/").verdict,
        Allowed
    );
}

#[test]
fn rfc9309_2_2_2_windows_1252_only_octet_euro() {
    // 0x80 is `€` in Windows-1252 (a C1 control in ISO-8859-1).
    let file = b"User-agent: *\nDisallow: /\x80uro/\n";
    let d = latin1(file, "https://e.example/\u{20ac}uro/x");
    assert_eq!(d.verdict, Refused);
    assert_eq!(d.reasons[0].rule.as_deref(), Some("/\u{20ac}uro/"));
    assert_eq!(latin1(file, "https://e.example/%80uro/").verdict, Refused);
    assert_eq!(
        latin1(file, "https://e.example/%C2%80uro/").verdict,
        Allowed
    );
}

#[test]
fn rfc9309_2_2_2_latin1_allow_is_not_bridged() {
    // Read as the octets it is, `Allow: /\xFCber/` allows `/%FCber/`; read as `/über/` it
    // would allow `/%C3%BCber/`, which the file read as written refuses.
    let file = b"User-agent: *\nDisallow: /\nAllow: /\xFCber/\n";
    let d = latin1(file, "https://e.example/%FCber/x");
    assert_eq!((d.verdict, d.reasons[0].line), (Allowed, Some(3)));
    let d = latin1(file, "https://e.example/\u{fc}ber/x");
    assert_eq!((d.verdict, d.reasons[0].line), (Refused, Some(2)));
}

#[test]
fn rfc9309_2_2_2_bridged_disallow_counts_its_longer_reading() {
    // `/\x80` is `/%80` (4 octets) as octets and `/%E2%82%AC` (10) as `/€`; the Allow (7)
    // outweighs only the first.
    let file = b"User-agent: *\nAllow: /%E2%82\nDisallow: /\x80\n";
    let d = latin1(file, "https://e.example/\u{20ac}");
    assert_eq!((d.verdict, d.reasons[0].line), (Refused, Some(3)));
    assert_eq!(latin1(file, "https://e.example/%E2%82x").verdict, Allowed);
}

#[test]
fn google_parser_stray_percent_in_disallow_also_matches_an_escape() {
    // Google compares `/100%` as written, so it refuses `/100%20off`; the RFC form reads the
    // `%` as a literal one (`/100%25`). A Disallow refuses in both readings.
    let r = "User-agent: *\nDisallow: /100%\n";
    for path in ["/100%", "/100%25", "/100%20off", "/100%2F", "/100%zz"] {
        assert_eq!(verdict(r, "x", path), Refused, "{path}");
    }
    for path in ["/100", "/1000", "/100x"] {
        assert_eq!(verdict(r, "x", path), Allowed, "{path}");
    }
    let r = "User-agent: *\nDisallow: /%\n";
    assert_eq!(verdict(r, "x", "/%E3%83%84"), Refused);
    assert_eq!(verdict(r, "x", "/%41"), Refused);
    assert_eq!(verdict(r, "x", "/x"), Allowed);
    let r = "User-agent: *\nDisallow: /a%2*z\n";
    assert_eq!(verdict(r, "x", "/a%2F/z"), Refused);
    assert_eq!(verdict(r, "x", "/a%2/z"), Refused);
    assert_eq!(verdict(r, "x", "/a%3F/z"), Allowed);
}

#[test]
fn google_parser_stray_percent_then_non_hex_matches_both_spellings() {
    // `%zz` is a literal `%zz`; a URL may carry it as `%zz` or `%25zz`.
    let r = "User-agent: *\nDisallow: /a%zz\n";
    for url in ["https://e.example/a%zz", "https://e.example/a%25zz/x"] {
        let url = crate::parse_url(url).unwrap();
        assert_eq!(
            RobotsTxt::parse(r.as_bytes()).allowed("x", &url).verdict,
            Refused
        );
    }
    assert_eq!(verdict(r, "x", "/azz"), Allowed);
    assert_eq!(verdict(r, "x", "/a%ZZ"), Allowed);
}

#[test]
fn google_parser_stray_percent_in_allow_never_turns_a_refusal_into_allowed() {
    let r = "User-agent: *\nDisallow: /a\nAllow: /a%zz\n";
    assert_eq!(verdict(r, "x", "/a%zz"), Allowed);
    // Google's reading does not allow `/a%25zz`: the Disallow stands.
    let d = decide(r, "x", "/a%25zz");
    assert_eq!((d.verdict, d.reasons[0].line), (Refused, Some(2)));
    // `Allow: /100%` allows the literal `%` only, not `/100%20off`, in either reading.
    let r = "User-agent: *\nDisallow: /\nAllow: /100%\n";
    assert_eq!(verdict(r, "x", "/100%"), Allowed);
    assert_eq!(verdict(r, "x", "/100%25x"), Allowed);
    assert_eq!(verdict(r, "x", "/100%20off"), Refused);
    assert_eq!(verdict(r, "x", "/100%2F"), Refused);
}
