//! Everything a site says about itself in files (location-based reservations): robots.txt
//! with its `Content-Usage`, `Content-Signal` and `License` lines, tdmrep.json and ai.txt.
//! Compiled once per origin; a network layer caches one `SitePolicy` per origin.

use crate::aipref::UsagePrefs;
use crate::aitxt::AiTxt;
use crate::content_signal::ContentSignals;
use crate::crawlers::{AiCrawlers, NamedCrawlers};
use crate::decision::Reason;
use crate::path_rules::PathRules;
use crate::purpose::Purpose;
use crate::robots::RobotsTxt;
use crate::tdmrep::TdmRepFile;

/// The location-based policy sources of one origin, compiled.
#[derive(Clone, Debug)]
pub struct SitePolicy {
    pub(crate) robots: Option<RobotsTxt>,
    pub(crate) usage: Option<PathRules<UsagePrefs>>,
    pub(crate) signals: Option<PathRules<ContentSignals>>,
    pub(crate) licenses: Vec<(u32, Box<str>)>,
    /// AI-training crawler tokens that robots.txt names in their own groups.
    pub(crate) ai_named: Vec<NamedCrawlers>,
    pub(crate) tdmrep: Option<TdmRepFile>,
    pub(crate) aitxt: Option<AiTxt>,
    /// Refusals that stand for every URL of the origin, with the purposes they refuse: what
    /// the network layer could not learn (an unreachable robots.txt refuses everything).
    pub(crate) standing: Vec<(Reason, Vec<Purpose>)>,
    /// Notes for every decision on the origin (a 404 robots.txt, a cached copy used).
    pub(crate) notes: Vec<Reason>,
}

impl SitePolicy {
    /// Compiles the sources a site has; `None` where it has none (or none was fetched).
    pub fn new(
        robots: Option<RobotsTxt>,
        tdmrep: Option<TdmRepFile>,
        aitxt: Option<AiTxt>,
        ai_crawlers: &AiCrawlers,
    ) -> SitePolicy {
        let usage = robots
            .as_ref()
            .map(|r| PathRules::compile(r, "content-usage", UsagePrefs::parse))
            .filter(|r| !r.is_empty());
        let signals = robots
            .as_ref()
            .map(|r| PathRules::compile(r, "content-signal", ContentSignals::parse))
            .filter(|r| !r.is_empty());
        let licenses = robots
            .iter()
            .flat_map(|r| r.extension_lines())
            .filter(|l| l.key.eq_ignore_ascii_case("license"))
            .map(|l| (l.line, l.value.clone()))
            .collect();
        let ai_named = robots
            .as_ref()
            .map(|r| ai_crawlers.named_in(r))
            .unwrap_or_default();
        SitePolicy {
            robots,
            usage,
            signals,
            licenses,
            ai_named,
            tdmrep,
            aitxt,
            standing: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a refusal for every URL of the origin, for `purposes`. Fail closed: when a policy
    /// file could not be read, the purposes it could reserve are refused (RFC 9309 §2.3.1.4).
    pub fn with_standing_refusal(mut self, reason: Reason, purposes: &[Purpose]) -> SitePolicy {
        self.standing.push((reason, purposes.to_vec()));
        self
    }

    /// Adds a note to every decision on the origin.
    pub fn with_note(mut self, reason: Reason) -> SitePolicy {
        self.notes.push(reason);
        self
    }

    /// The robots.txt, if the site has one.
    pub fn robots(&self) -> Option<&RobotsTxt> {
        self.robots.as_ref()
    }
}
