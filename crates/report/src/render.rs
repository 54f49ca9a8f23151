//! Writing a report: `json` (every figure, for machines), `md` and one self-contained
//! `html` file (inline CSS and SVG charts, no script, no external asset, print CSS).

use super::chart;
use super::escape::{html, md};
use super::figures::Figures;
use super::tables::{Table, tables};
use std::fmt::Write;

/// The report as JSON: the figures, with the generator and the top domains.
pub fn json(f: &Figures) -> serde_json::Result<Vec<u8>> {
    let top = |verdict| {
        f.top_by(verdict, super::tables::TOP)
            .into_iter()
            .map(|(d, n)| serde_json::json!({"domain": d, "records": n}))
            .collect::<Vec<_>>()
    };
    let mut value = serde_json::to_value(f)?;
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "generator".into(),
            format!("optout {}", env!("CARGO_PKG_VERSION")).into(),
        );
        map.insert("top_refused".into(), top("refused").into());
        map.insert("top_discarded".into(), top("discarded").into());
    }
    let mut out = serde_json::to_vec_pretty(&value)?;
    out.push(b'\n');
    Ok(out)
}

fn period(f: &Figures) -> String {
    match (&f.first, &f.last) {
        (Some(first), Some(last)) => format!("{first} to {last}"),
        _ => "no dated records".to_owned(),
    }
}

fn filters(f: &Figures) -> String {
    match (&f.since, &f.until) {
        (None, None) => "the whole log".to_owned(),
        (since, until) => format!(
            "records since {} until {}",
            since.as_deref().unwrap_or("the start"),
            until.as_deref().unwrap_or("the end")
        ),
    }
}

/// The report as Markdown.
pub fn markdown(f: &Figures) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# optout evidence report\n");
    let _ = writeln!(
        out,
        "Computed by optout {} from {}: {} records, {}.\n",
        env!("CARGO_PKG_VERSION"),
        md(&filters(f)),
        f.records,
        md(&period(f))
    );
    for table in tables(f) {
        let _ = writeln!(out, "## {}\n", table.title);
        if let Some(note) = &table.note {
            let _ = writeln!(out, "{note}\n");
        }
        if table.rows.is_empty() {
            let _ = writeln!(out, "None.\n");
            continue;
        }
        let heads: Vec<&str> = (0..table.head.len()).map(|i| table.column(i).0).collect();
        let aligns: Vec<&str> = (0..table.head.len())
            .map(|i| if table.column(i).1 { "---:" } else { "---" })
            .collect();
        let _ = writeln!(out, "| {} |\n|{}|", heads.join(" | "), aligns.join("|"));
        for row in &table.rows {
            let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out.push('\n');
    }
    out
}

const CSS: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1b1b;max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.2rem .6rem;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}td{overflow-wrap:anywhere}
.note{color:#555;font-size:.9rem}
dl.totals{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}
svg.chart{max-width:100%;height:auto;display:block;margin:.5rem 0}
svg .label,svg .value{font:12px system-ui,sans-serif;fill:#333}svg .axis{stroke:#888}
.v-allowed{fill:#2e7d32}.v-refused{fill:#c62828}.v-discarded{fill:#ef6c00}.v-other{fill:#757575}
.p-bar{fill:#1565c0}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem;vertical-align:middle}
.legend .allowed{background:#2e7d32}.legend .refused{background:#c62828}.legend .discarded{background:#ef6c00}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}tr,svg{break-inside:avoid}
a{color:inherit;text-decoration:none}.legend span{print-color-adjust:exact;-webkit-print-color-adjust:exact}
svg rect{print-color-adjust:exact;-webkit-print-color-adjust:exact}}
";

/// The report as one self-contained HTML file.
pub fn html_page(f: &Figures) -> String {
    let mut out = String::new();
    let title = format!("optout evidence report: {}", period(f));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"generator\" content=\"optout {v}\">\
         <title>{t}</title><style>{CSS}</style></head><body>\n<h1>optout evidence report</h1>\n\
         <p>Computed by optout {v} from the evidence log ({filters}).</p>\n",
        v = env!("CARGO_PKG_VERSION"),
        t = html(&title),
        filters = html(&filters(f)),
    );
    let _ = writeln!(
        out,
        "<dl class=\"totals\"><dt>Period</dt><dd>{}</dd><dt>Records</dt><dd id=\"records\">{}</dd>\
         <dt>Responses kept</dt><dd id=\"kept\">{}</dd><dt>Bytes kept</dt><dd id=\"bytes-kept\">{}</dd>\
         <dt>Origins seen</dt><dd id=\"origins\">{}</dd><dt>Domains seen</dt><dd>{}</dd></dl>",
        html(&period(f)),
        f.records,
        f.kept,
        f.bytes_kept,
        f.origins,
        f.domains.len()
    );
    out.push_str("<h2>Decisions over time</h2>\n<p class=\"legend\"><span class=\"allowed\"></span>allowed<span class=\"refused\"></span>refused<span class=\"discarded\"></span>discarded</p>\n");
    out.push_str(&chart::timeline(
        "chart-time",
        "Decisions over time",
        &f.days,
    ));
    out.push_str("\n<h2>Overview</h2>\n<h3>Decisions by verdict</h3>\n");
    let verdicts: Vec<(String, u64, &str)> = f
        .verdicts
        .iter()
        .map(|(k, v)| {
            let class = match k.as_str() {
                "allowed" => "v-allowed",
                "refused" => "v-refused",
                "discarded" => "v-discarded",
                _ => "v-other",
            };
            (k.clone(), *v, class)
        })
        .collect();
    out.push_str(&chart::bars(
        "chart-verdicts",
        "Decisions by verdict",
        &verdicts,
    ));
    out.push_str("\n<h3>Refused and discarded, by deciding protocol</h3>\n");
    let protocols: Vec<(String, u64, &str)> = f
        .protocols
        .iter()
        .map(|p| (p.name.to_owned(), p.decided, "p-bar"))
        .collect();
    out.push_str(&chart::bars(
        "chart-protocols",
        "Refused and discarded records by deciding protocol",
        &protocols,
    ));
    out.push('\n');
    for table in tables(f) {
        write_table(&mut out, &table);
    }
    out.push_str("</body></html>\n");
    out
}

fn write_table(out: &mut String, table: &Table) {
    let _ = writeln!(out, "<h2 id=\"{}\">{}</h2>", table.id, html(table.title));
    if let Some(note) = &table.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", html(note));
    }
    if table.rows.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    let _ = write!(out, "<table id=\"table-{}\"><thead><tr>", table.id);
    for i in 0..table.head.len() {
        let (head, numeric) = table.column(i);
        let class = if numeric { " class=\"n\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", html(head));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if table.column(i).1 {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", html(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}
