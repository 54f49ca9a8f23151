//! Inline SVG charts for the HTML report: no script, no external asset, readable printed.
//! Colours come from the report's CSS classes (`v-allowed`, `v-refused`, ...); every label
//! is escaped ([`escape::html`]), and every bar carries a `<title>` with its exact count.

use super::escape::{self, html};
use super::figures::Day;
use std::fmt::Write;

/// The most columns the timeline draws: past it, days are merged into months.
pub const MAX_COLUMNS: usize = 92;

/// A horizontal bar chart: one bar per `(label, value, css class)`.
pub fn bars(id: &str, title: &str, items: &[(String, u64, &str)]) -> String {
    let width = 640.0;
    let label_w = 200.0;
    let row = 26.0;
    let height = row * items.len().max(1) as f64 + 10.0;
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = html(title)
    );
    for (i, (label, value, class)) in items.iter().enumerate() {
        let y = 5.0 + row * i as f64;
        let w = ((*value as f64) / max * (width - label_w - 90.0)).max(if *value > 0 {
            1.0
        } else {
            0.0
        });
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end" class="label">{l}</text><rect x="{label_w}" y="{y}" width="{w:.1}" height="{h}" class="{class}"><title>{l}: {v}</title></rect><text x="{vx:.1}" y="{ty}" class="value">{vs}</text>"#,
            lx = label_w - 8.0,
            ty = y + 15.0,
            l = html(label),
            h = row - 8.0,
            v = value,
            vx = label_w + w + 6.0,
            vs = escape::count(*value),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Merges days into months when there are more than [`MAX_COLUMNS`].
pub fn columns(days: &[Day]) -> Vec<Day> {
    if days.len() <= MAX_COLUMNS {
        return days.to_vec();
    }
    let mut months: Vec<Day> = Vec::new();
    for d in days {
        let month = d.day.get(..7).unwrap_or(&d.day);
        match months.last_mut() {
            Some(m) if m.day == month => {
                m.allowed += d.allowed;
                m.refused += d.refused;
                m.discarded += d.discarded;
                m.other += d.other;
            }
            _ => months.push(Day {
                day: month.to_owned(),
                ..d.clone()
            }),
        }
    }
    months
}

/// Decisions over time: one stacked column per day (or month), allowed, refused and
/// discarded.
pub fn timeline(id: &str, title: &str, days: &[Day]) -> String {
    let columns = columns(days);
    let (width, height, top, bottom, left) = (640.0, 260.0, 10.0, 40.0, 50.0);
    let plot_h = height - top - bottom;
    let n = columns.len().max(1) as f64;
    let step = (width - left - 10.0) / n;
    let bar = (step * 0.8).clamp(1.0, 40.0);
    let max = columns
        .iter()
        .map(|d| d.allowed + d.refused + d.discarded + d.other)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = html(title)
    );
    let _ = write!(
        svg,
        r#"<line x1="{left}" y1="{b}" x2="{r}" y2="{b}" class="axis"/><text x="{lx}" y="{ty}" text-anchor="end" class="label">{m}</text><text x="{lx}" y="{b}" text-anchor="end" class="label">0</text>"#,
        b = height - bottom,
        r = width - 10.0,
        lx = left - 6.0,
        ty = top + 10.0,
        m = escape::count(max),
    );
    let label_every = (columns.len() / 8).max(1);
    for (i, d) in columns.iter().enumerate() {
        let x = left + step * i as f64 + (step - bar) / 2.0;
        let mut y = height - bottom;
        for (value, class, name) in [
            (d.allowed, "v-allowed", "allowed"),
            (d.refused, "v-refused", "refused"),
            (d.discarded, "v-discarded", "discarded"),
            (d.other, "v-other", "other"),
        ] {
            if value == 0 {
                continue;
            }
            let h = value as f64 / max as f64 * plot_h;
            y -= h;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" class="{class}"><title>{day}: {value} {name}</title></rect>"#,
                day = html(&d.day),
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{ty}" text-anchor="middle" class="label">{day}</text>"#,
                cx = x + bar / 2.0,
                ty = height - bottom + 16.0,
                day = html(&d.day),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_long_periods_merge_into_months() {
        let svg = bars("b", "<t>", &[("<script>x</script>".into(), 3, "v-refused")]);
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
        let days: Vec<Day> = (0..120)
            .map(|i| Day {
                day: format!("2026-{:02}-{:02}", 1 + i / 28, 1 + i % 28),
                allowed: 1,
                ..Day::default()
            })
            .collect();
        let months = columns(&days);
        assert_eq!(months.len(), 5);
        assert_eq!(months.iter().map(|m| m.allowed).sum::<u64>(), 120);
        assert!(timeline("t", "t", &days).contains("2026-05"));
        assert!(timeline("t", "t", &[]).starts_with("<svg"));
    }
}
