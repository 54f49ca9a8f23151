//! The progress of a crawl on standard error: on a terminal a live line (redrawn in
//! place), otherwise one plain status line every few seconds, so a log file stays readable.

use super::frontier::FrontierStats;
use super::tally::Tally;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Where progress goes.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    every: Duration,
    last: Instant,
}

impl Progress {
    /// A live line on a terminal, else a status line every 5 s.
    pub fn new() -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
            bar
        });
        Progress {
            bar,
            every: Duration::from_millis(if terminal { 250 } else { 5000 }),
            last: Instant::now(),
        }
    }

    /// Shows the counts, if it is time to. `blocked`: hosts whose server asked them to wait
    /// (`Retry-After`, back-off), and the latest time one is blocked until.
    pub fn show(
        &mut self,
        tally: &Tally,
        frontier: FrontierStats,
        in_flight: usize,
        blocked: (usize, Option<std::time::SystemTime>),
    ) {
        if self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        let blocked = match blocked {
            (0, _) | (_, None) => String::new(),
            (n, Some(until)) => format!(
                " blocked {n} (until {})",
                optout_net::politeness::rfc3339(until)
            ),
        };
        let line = format!(
            "kept {} refused {} discarded {} failed {} skipped {} | queued {} in flight {} hosts due {} waiting {}{blocked} | {:.1} pages/s {} bytes",
            tally.kept,
            tally.refused,
            tally.discarded,
            tally.failed,
            tally.skipped,
            frontier.queued,
            in_flight,
            frontier.hosts_due,
            frontier.hosts_waiting,
            tally.pages_per_s(),
            tally.bytes
        );
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => eprintln!("crawl: {line}"),
        }
    }

    /// Clears the live line.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Default for Progress {
    fn default() -> Progress {
        Progress::new()
    }
}
