//! Proptest strategies for reasons with hostile text, shared by the tests that check a
//! writer of reasons byte for byte against serde_json (the evidence encoder, `check
//! --json`). A crate of its own, used only as a dev-dependency, so that no library crate
//! carries proptest or compiles differently for tests of other crates.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use optout_policy::{Code, Reason};
use proptest::option::of as o;
use proptest::prelude::*;

/// Strings heavy in what escaping and sorting could get wrong: quotes, backslashes,
/// every kind of control character, DEL, U+2028/U+2029, non-BMP characters, multi-byte
/// characters straddling the 8-byte steps of the escape scan.
pub fn hostile() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '"',
        '\\',
        '/',
        '\0',
        '\u{1}',
        '\u{8}',
        '\t',
        '\n',
        '\u{b}',
        '\u{c}',
        '\r',
        '\u{1f}',
        ' ',
        '\u{7f}',
        '\u{80}',
        'é',
        '\u{2028}',
        '\u{2029}',
        '\u{fffd}',
        '\u{ffff}',
        '😀',
        '\u{10ffff}',
        'a',
        '0',
    ]);
    let ch = prop_oneof![3 => special, 1 => any::<char>()];
    prop::collection::vec(ch, 0..40).prop_map(|v| v.into_iter().collect())
}

/// Reasons of every code, with every field set or not and hostile text in each.
pub fn reason() -> impl Strategy<Value = Reason> {
    let agents = prop::collection::vec(hostile(), 0..4).prop_map(|a| {
        a.into_iter()
            .map(Box::from)
            .collect::<std::sync::Arc<[_]>>()
    });
    (
        prop::sample::select(Code::ALL),
        (o(any::<u32>()), o(any::<u32>())),
        (o(hostile()), o(agents), o(hostile())),
        (o(hostile()), o(hostile())),
    )
        .prop_map(
            |(code, (line, entry), (rule, agents, source), (policy, detail))| Reason {
                code,
                line,
                rule: rule.map(Into::into),
                agents,
                source: source.map(Into::into),
                entry,
                policy: policy.map(Into::into),
                detail: detail.map(Into::into),
            },
        )
}
