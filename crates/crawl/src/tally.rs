//! What a crawl did, for its summary line and its progress line.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

/// Counts of one crawl run.
#[derive(Clone, Debug)]
pub struct Tally {
    /// Pages written to the WARC.
    pub kept: u64,
    /// Refused before a request (or access denied).
    pub refused: u64,
    /// Requested, then discarded (the response reserved itself).
    pub discarded: u64,
    /// Allowed, but no content came (errors, redirects that cannot be followed).
    pub failed: u64,
    /// Found, never judged: scope and limits.
    pub skipped: u64,
    /// Redirects queued as URLs of their own.
    pub redirects: u64,
    /// Body bytes kept.
    pub bytes: u64,
    /// Each reason code that stopped a URL, with its count.
    pub by_code: BTreeMap<&'static str, u64>,
    /// When the run began.
    pub started: Instant,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            kept: 0,
            refused: 0,
            discarded: 0,
            failed: 0,
            skipped: 0,
            redirects: 0,
            bytes: 0,
            by_code: BTreeMap::new(),
            started: Instant::now(),
        }
    }
}

impl Tally {
    /// Counts one URL not kept, under `verdict` (as the skip report writes it) and `code`.
    pub fn not_kept(&mut self, verdict: &str, code: &'static str) {
        match verdict {
            "refused" => self.refused += 1,
            "discarded" => self.discarded += 1,
            "failed" => self.failed += 1,
            _ => self.skipped += 1,
        }
        *self.by_code.entry(code).or_default() += 1;
    }

    /// Time since the run began.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Pages kept per second so far.
    pub fn pages_per_s(&self) -> f64 {
        self.kept as f64 / self.elapsed().as_secs_f64().max(1e-3)
    }
}

impl fmt::Display for Tally {
    /// `12 kept, 3 refused, 1 discarded, 0 failed, 9 skipped (robots.disallow 3, ...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} kept, {} refused, {} discarded, {} failed, {} skipped",
            self.kept, self.refused, self.discarded, self.failed, self.skipped
        )?;
        if !self.by_code.is_empty() {
            let mut codes: Vec<_> = self.by_code.iter().collect();
            codes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c} {n}")).collect();
            write!(f, " ({})", codes.join(", "))?;
        }
        write!(
            f,
            "; {} bytes in {:.1} s, {:.1} pages/s",
            self.bytes,
            self.elapsed().as_secs_f64(),
            self.pages_per_s()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_count_and_code() {
        let mut tally = Tally {
            kept: 2,
            ..Tally::default()
        };
        tally.not_kept("refused", "robots.disallow");
        tally.not_kept("skipped", "crawl.out-of-scope");
        tally.not_kept("skipped", "crawl.out-of-scope");
        let line = tally.to_string();
        assert!(
            line.starts_with("2 kept, 1 refused, 0 discarded, 0 failed, 2 skipped (crawl.out-of-scope 2, robots.disallow 1)"),
            "{line}"
        );
    }
}
