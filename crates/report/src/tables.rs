//! The report's tables, built once from the figures and written by both the Markdown and
//! the HTML renderer. Cells hold plain text (from the log: hostile); each renderer escapes.

use super::escape;
use super::figures::Figures;

/// Rows the per-domain table shows in Markdown and HTML; the JSON report and
/// `--eu-summary`'s domains.csv have them all.
pub const MAX_DOMAIN_ROWS: usize = 500;
/// Domains in the "top refused" and "top discarded" tables.
pub const TOP: usize = 10;

/// One table.
pub struct Table {
    /// The HTML `id` and anchor.
    pub id: &'static str,
    /// Its heading.
    pub title: &'static str,
    /// A sentence under the heading, if any.
    pub note: Option<String>,
    /// Column headings; a heading starting with `#` is a numeric (right-aligned) column,
    /// shown without the `#`.
    pub head: Vec<&'static str>,
    /// The rows, as text.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The heading of column `i`, and whether it is numeric.
    pub fn column(&self, i: usize) -> (&'static str, bool) {
        let h = self.head[i];
        match h.strip_prefix('#') {
            Some(h) => (h, true),
            None => (h, false),
        }
    }
}

fn n(v: u64) -> String {
    v.to_string()
}

/// Every table of the report, in order.
pub fn tables(f: &Figures) -> Vec<Table> {
    let mut tables =
        vec![
        Table {
            id: "verdicts",
            title: "Decisions by verdict",
            note: Some(format!(
                "{} records; {} responses kept ({} bytes, {}).",
                f.records,
                f.kept,
                f.bytes_kept,
                escape::bytes(f.bytes_kept)
            )),
            head: vec!["verdict", "#records"],
            rows: f.verdicts.iter().map(|(k, v)| vec![k.clone(), n(*v)]).collect(),
        },
        Table {
            id: "protocols",
            title: "By protocol",
            note: Some(
                "reasons: every reason of the protocol's codes; refusals: refused or discarded \
                 records with one of its reservations; unreadable: refused because its file \
                 could not be read (fail closed); decided: refused or discarded records whose \
                 deciding reason is its; origins using it: origins that served its file or \
                 were refused by it."
                    .into(),
            ),
            head: vec![
                "protocol",
                "#reasons",
                "#refusals",
                "#unreadable",
                "#decided",
                "#origins using it",
            ],
            rows: f
                .protocols
                .iter()
                .map(|p| {
                    vec![
                        p.name.to_owned(),
                        n(p.reasons),
                        n(p.refusals),
                        n(p.unreachable),
                        n(p.decided),
                        p.origins_using.map_or("n/a".into(), n),
                    ]
                })
                .collect(),
        },
        Table {
            id: "reasons",
            title: "By reason code",
            note: Some("Every reason of every record, as `optout log stats` counts them.".into()),
            head: vec!["code", "#reasons"],
            rows: f.reasons.iter().map(|(k, v)| vec![k.clone(), n(*v)]).collect(),
        },
        Table {
            id: "days",
            title: "Decisions over time",
            note: Some("Per day (UTC) of the record's time.".into()),
            head: vec!["day", "#allowed", "#refused", "#discarded"],
            rows: f
                .days
                .iter()
                .map(|d| vec![d.day.clone(), n(d.allowed), n(d.refused), n(d.discarded)])
                .collect(),
        },
    ];
    for (id, title, verdict) in [
        ("top-refused", "Top refused domains", "refused"),
        ("top-discarded", "Top discarded domains", "discarded"),
    ] {
        tables.push(Table {
            id,
            title,
            note: None,
            head: vec!["domain", "#records"],
            rows: f
                .top_by(verdict, TOP)
                .into_iter()
                .map(|(d, c)| vec![d.to_owned(), n(c)])
                .collect(),
        });
    }
    let shown = f.domains.len().min(MAX_DOMAIN_ROWS);
    tables.push(Table {
        id: "domains",
        title: "Per domain",
        note: Some(format!(
            "{} domains (registrable domain of each URL's host), by bytes kept{}.",
            f.domains.len(),
            if shown < f.domains.len() {
                format!(
                    "; the first {shown} shown (all of them: `optout report --format json`, \
                     or domains.csv of `--eu-summary`)"
                )
            } else {
                String::new()
            }
        )),
        head: vec![
            "domain",
            "#requests",
            "#kept",
            "#refused",
            "#discarded",
            "#bytes kept",
        ],
        rows: f.domains[..shown]
            .iter()
            .map(|d| {
                vec![
                    d.domain.clone(),
                    n(d.requests),
                    n(d.kept),
                    n(d.refused),
                    n(d.discarded),
                    n(d.bytes),
                ]
            })
            .collect(),
    });
    for (id, title, map) in [
        ("agents", "By agent", &f.agents),
        ("purposes", "By purpose", &f.purposes),
    ] {
        tables.push(Table {
            id,
            title,
            note: None,
            head: vec!["name", "#records"],
            rows: map.iter().map(|(k, v)| vec![k.clone(), n(*v)]).collect(),
        });
    }
    tables
}
