//! The `[fetch]` table: what the fetch pipeline does with responses.

use serde::Deserialize;

/// The `[fetch]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fetch {
    /// Redirects followed for a page (each hop is judged before it is requested).
    pub max_redirects: usize,
    /// Discard pages marked paywalled (schema.org `isAccessibleForFree: false`) when
    /// collecting training data.
    pub discard_paywalled: bool,
}

impl Default for Fetch {
    fn default() -> Fetch {
        Fetch {
            max_redirects: 10,
            discard_paywalled: true,
        }
    }
}
