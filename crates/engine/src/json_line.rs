//! One line of `optout check --json`, written straight into a byte buffer.
//!
//! The line is what `serde_json` gives for the object `{url, agent, purpose, verdict,
//! reasons, seq}` (`seq` only when the decision was recorded), each reason with the fields
//! of [`Reason`] that are set, in their declared order, byte for byte (a test checks it on
//! generated reasons). Bulk checks print a line per URL, and `serde_json`'s writer, which
//! escapes a byte at a time through `io::Write`, cost more than the decision itself.

use optout_evidence::canonical::{write_name, write_string, write_u64};
use optout_evidence::reason_json::{Form, write_reason};
use optout_policy::{Purpose, Reason};

/// Appends the `--json` line for one input (without the newline) to `out`.
pub fn json_line(
    out: &mut Vec<u8>,
    url: &str,
    agent: &str,
    purpose: Purpose,
    verdict: &'static str,
    reasons: &[Reason],
    seq: Option<u64>,
) {
    // serde_json escapes strings as the canonical writer does: `"`, `\`, the five short
    // forms, other control characters as `\u00xx` in lower-case hex, nothing else.
    out.extend_from_slice(br#"{"url":"#);
    write_string(url, out);
    out.extend_from_slice(br#","agent":"#);
    write_string(agent, out);
    out.extend_from_slice(br#","purpose":"#);
    write_name(purpose.as_str(), out);
    out.extend_from_slice(br#","verdict":"#);
    write_name(verdict, out);
    out.extend_from_slice(br#","reasons":["#);
    for (i, reason) in reasons.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_reason(reason, Form::Output, out);
    }
    out.push(b']');
    if let Some(seq) = seq {
        out.extend_from_slice(br#","seq":"#);
        write_u64(seq, out);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use optout_strategies::{hostile, reason};
    use proptest::prelude::*;
    use serde::Serialize;

    /// The line as `optout check --json` wrote it with `serde_json` before this writer.
    #[derive(Serialize)]
    struct Line<'a> {
        url: &'a str,
        agent: &'a str,
        purpose: Purpose,
        verdict: &'a str,
        reasons: &'a [Reason],
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 1024,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn byte_identical_to_serde_json(
            (url, agent) in (hostile(), hostile()),
            verdict in prop::sample::select(vec!["allowed", "refused", "discarded", "error"]),
            purpose in prop::sample::select(Purpose::ALL.to_vec()),
            reasons in prop::collection::vec(reason(), 0..5),
            seq in any::<Option<u64>>(),
        ) {
            let want = serde_json::to_string(&Line {
                url: &url,
                agent: &agent,
                purpose,
                verdict,
                reasons: &reasons,
                seq,
            })
            .unwrap();
            let mut got = Vec::new();
            json_line(&mut got, &url, &agent, purpose, verdict, &reasons, seq);
            prop_assert_eq!(String::from_utf8(got).unwrap(), want);
        }
    }
}
