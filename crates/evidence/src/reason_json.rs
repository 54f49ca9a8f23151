//! The one writer of a [`Reason`] as JSON, straight into a byte buffer. Two forms share it:
//! an evidence record's (keys sorted, as `serde_json::to_value` then the canonical writer
//! give them, credentials redacted from `detail`) and the output lines' (`optout check
//! --json`, the service: the fields in `Reason`'s declared order, as its `Serialize` derive
//! writes them). Both are byte for byte what the slow path gives; the tests beside each
//! caller check that on generated reasons.

use crate::canonical::{write_name, write_string, write_u64};
use crate::record::redact_text;
use optout_policy::Reason;

/// Which JSON a reason is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// An evidence record's: keys in sorted order (`agents`, `code`, `detail`, `entry`,
    /// `line`, `policy`, `rule`, `source`), and no credentials in `detail`, whichever way
    /// the reason came in (as `Record::of_decision` does).
    Evidence,
    /// An output line's: `code`, `line`, `rule`, `agents`, `source`, `entry`, `policy`,
    /// `detail`, as declared.
    Output,
}

#[derive(Clone, Copy)]
enum Field {
    Agents,
    Code,
    Detail,
    Entry,
    Line,
    Policy,
    Rule,
    Source,
}

const SORTED: [Field; 8] = [
    Field::Agents,
    Field::Code,
    Field::Detail,
    Field::Entry,
    Field::Line,
    Field::Policy,
    Field::Rule,
    Field::Source,
];

const DECLARED: [Field; 8] = [
    Field::Code,
    Field::Line,
    Field::Rule,
    Field::Agents,
    Field::Source,
    Field::Entry,
    Field::Policy,
    Field::Detail,
];

/// Appends `reasons` as a JSON array in `form`.
pub fn write_reasons(reasons: &[Reason], form: Form, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, reason) in reasons.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_reason(reason, form, out);
    }
    out.push(b']');
}

/// Appends `reason` as a JSON object in `form`: the fields that are set.
pub fn write_reason(reason: &Reason, form: Form, out: &mut Vec<u8>) {
    let fields = match form {
        Form::Evidence => &SORTED,
        Form::Output => &DECLARED,
    };
    out.push(b'{');
    let mut first = true;
    for field in fields {
        write_field(reason, *field, form, &mut first, out);
    }
    out.push(b'}');
}

/// Writes `"name":` with the comma a field after the first needs.
fn key(name: &[u8], first: &mut bool, out: &mut Vec<u8>) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name);
    out.extend_from_slice(b"\":");
}

fn write_field(reason: &Reason, field: Field, form: Form, first: &mut bool, out: &mut Vec<u8>) {
    match field {
        Field::Code => {
            key(b"code", first, out);
            write_name(reason.code.as_str(), out);
        }
        Field::Agents => {
            if let Some(agents) = &reason.agents {
                key(b"agents", first, out);
                out.push(b'[');
                for (j, agent) in agents.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    write_string(agent, out);
                }
                out.push(b']');
            }
        }
        Field::Detail => {
            if let Some(detail) = &reason.detail {
                key(b"detail", first, out);
                match form {
                    Form::Evidence => write_string(&redact_text(detail), out),
                    Form::Output => write_string(detail, out),
                }
            }
        }
        Field::Entry => {
            if let Some(entry) = reason.entry {
                key(b"entry", first, out);
                write_u64(entry.into(), out);
            }
        }
        Field::Line => {
            if let Some(line) = reason.line {
                key(b"line", first, out);
                write_u64(line.into(), out);
            }
        }
        Field::Policy => write_text(b"policy", reason.policy.as_deref(), first, out),
        Field::Rule => write_text(b"rule", reason.rule.as_deref(), first, out),
        Field::Source => write_text(b"source", reason.source.as_deref(), first, out),
    }
}

fn write_text(name: &[u8], value: Option<&str>, first: &mut bool, out: &mut Vec<u8>) {
    if let Some(value) = value {
        key(name, first, out);
        write_string(value, out);
    }
}
