//! A preference for one category of use: allow, disallow, or unknown (aipref vocab §7).

use serde::Serialize;

/// One category's preference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pref {
    /// Nothing was said, or what was said could not be read.
    #[default]
    Unknown,
    /// The use is allowed.
    Allow,
    /// The use is disallowed.
    Disallow,
}

impl Pref {
    /// Combines two statements (vocab §7.1): any disallow wins, then any allow.
    pub fn most_restrictive(self, other: Pref) -> Pref {
        match (self, other) {
            (Pref::Disallow, _) | (_, Pref::Disallow) => Pref::Disallow,
            (Pref::Allow, _) | (_, Pref::Allow) => Pref::Allow,
            _ => Pref::Unknown,
        }
    }
}
