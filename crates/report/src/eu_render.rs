//! Writing the EU summary: `summary.md`, `summary.json` and `domains.csv`.

use super::escape::{self, md};
use super::eu_summary::{Field, Summary};
use super::figures::Figures;
use super::template as t;
use std::fmt::Write;

/// `summary.md`: the template's labels as headings, each answer or
/// [`t::TO_BE_COMPLETED`], then what the evidence shows.
pub fn markdown(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Public summary of training content: sections 2.3 and 3.1\n"
    );
    let _ = writeln!(out, "{}.\n", t::TEMPLATE);
    for (what, value) in [("Provider", &summary.provider), ("Model", &summary.model)] {
        let value = value
            .as_deref()
            .map_or_else(|| t::TO_BE_COMPLETED.to_owned(), md);
        let _ = writeln!(out, "- {what}: {value}");
    }
    let _ = writeln!(
        out,
        "- Computed by optout {} from {} evidence-log records{}{}.\n",
        env!("CARGO_PKG_VERSION"),
        summary.records,
        summary
            .since
            .as_deref()
            .map_or(String::new(), |s| format!(", since {}", md(s))),
        summary
            .until
            .as_deref()
            .map_or(String::new(), |u| format!(", until {}", md(u))),
    );
    let _ = writeln!(out, "## {}\n", t::SECTION_2_3);
    for field in &summary.section_2_3 {
        write_field(&mut out, field);
        if field.label == t::DOMAINS && !summary.domains.is_empty() {
            let _ = writeln!(
                out,
                "| rank | domain | content kept (bytes) |\n|---:|---|---:|"
            );
            for (i, d) in summary.domains.iter().enumerate() {
                let _ = writeln!(out, "| {} | {} | {} |", i + 1, md(&d.domain), d.bytes);
            }
            out.push('\n');
        }
    }
    let _ = writeln!(out, "## {}\n", t::SECTION_3_1);
    for field in &summary.section_3_1 {
        write_field(&mut out, field);
        if field.label == t::MEASURES {
            let _ = writeln!(
                out,
                "| protocol | version | honoured | refusals | refused as unreadable | origins using it |\n|---|---|---|---:|---:|---:|"
            );
            for p in &summary.protocols {
                let origins = p.origins_using.map_or("n/a".into(), |n| n.to_string());
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {origins} |",
                    md(p.protocol),
                    md(p.version),
                    md(&p.honoured),
                    p.refusals,
                    p.unreachable
                );
            }
            out.push('\n');
        }
    }
    out
}

fn write_field(out: &mut String, field: &Field) {
    // The labels are the template's, verbatim.
    let _ = writeln!(out, "### {}\n", field.label);
    // The provider's own prose is Markdown they wrote: it goes in as written. A computed
    // answer holds strings from the log; the domain list is the table below.
    match (&field.answer, field.to_be_completed) {
        (Some(_), _) if field.label == t::DOMAINS => {
            let _ = writeln!(out, "The domain names below, in rank order.\n");
        }
        (Some(answer), _) if field.prose => {
            let _ = writeln!(out, "{answer}\n");
        }
        (Some(answer), _) => {
            let _ = writeln!(out, "{}\n", md(answer));
        }
        (None, true) => {
            let _ = writeln!(out, "{}\n", t::TO_BE_COMPLETED);
        }
        (None, false) => {
            let _ = writeln!(out, "None.\n");
        }
    }
    if !field.from_evidence.is_empty() {
        let _ = writeln!(out, "From the configuration and the evidence log:\n");
        for fact in &field.from_evidence {
            let _ = writeln!(out, "- {}", md(fact));
        }
        out.push('\n');
    }
}

/// `domains.csv`: every domain of the log, by bytes kept (descending), ties by name, with
/// whether the summary lists it.
pub fn domains_csv(figures: &Figures, summary: &Summary) -> Result<Vec<u8>, csv::Error> {
    let listed: std::collections::HashSet<&str> =
        summary.domains.iter().map(|d| d.domain.as_str()).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "rank",
        "domain",
        "bytes_kept",
        "kept",
        "requests",
        "refused",
        "discarded",
        "listed",
    ])?;
    for (i, d) in figures.domains.iter().enumerate() {
        w.write_record([
            (i + 1).to_string(),
            escape::csv_cell(&d.domain),
            d.bytes.to_string(),
            d.kept.to_string(),
            d.requests.to_string(),
            d.refused.to_string(),
            d.discarded.to_string(),
            if listed.contains(d.domain.as_str()) {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
