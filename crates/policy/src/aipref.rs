//! IETF AI preferences: the `Content-Usage` vocabulary (draft-ietf-aipref-vocab-07) as a
//! robots.txt line and as an HTTP header (draft-ietf-aipref-attach-05).
//!
//! A statement is a Structured Fields Dictionary (RFC 9651 §3.2), e.g. `train-ai=n,
//! search=y`. Only the tokens `y` and `n` count; unknown keys and parameters are ignored
//! (vocab §6.4); a value that does not parse means every preference is unknown (vocab §6.5.1),
//! never an error.

use crate::pref::Pref;

/// The preferences one statement gives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsagePrefs {
    /// `train-ai`: AI model training (vocab §4.1).
    pub train_ai: Pref,
    /// `search` (vocab §4.2).
    pub search: Pref,
    /// The statement did not parse as a dictionary.
    pub invalid: bool,
}

impl UsagePrefs {
    /// Parses one statement of preference.
    pub fn parse(value: &str) -> UsagePrefs {
        let Ok(dict) = sfv::Parser::new(value.as_bytes()).parse::<sfv::Dictionary>() else {
            return UsagePrefs {
                invalid: true,
                ..UsagePrefs::default()
            };
        };
        let pref = |key: &str| match dict.get(key) {
            Some(sfv::ListEntry::Item(item)) => match item.bare_item.as_token() {
                Some(t) if t.as_str() == "y" => Pref::Allow,
                Some(t) if t.as_str() == "n" => Pref::Disallow,
                _ => Pref::Unknown,
            },
            _ => Pref::Unknown,
        };
        UsagePrefs {
            train_ai: pref("train-ai"),
            search: pref("search"),
            invalid: false,
        }
    }

    /// Combines two statements to the most restrictive (vocab §7.1).
    pub fn combine(self, other: UsagePrefs) -> UsagePrefs {
        UsagePrefs {
            train_ai: self.train_ai.most_restrictive(other.train_ai),
            search: self.search.most_restrictive(other.search),
            invalid: self.invalid || other.invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_example_train_ai_y_search_n() {
        let p = UsagePrefs::parse("train-ai=y, search=n");
        assert_eq!(p.train_ai, Pref::Allow);
        assert_eq!(p.search, Pref::Disallow);
    }

    #[test]
    fn vocab_7_multiple_preferences_non_tokens_are_unknown() {
        let p = UsagePrefs::parse(r#"train-ai=y, train-ai, search=n, search="n""#);
        assert_eq!(p.train_ai, Pref::Unknown);
        assert_eq!(p.search, Pref::Unknown);
        assert!(!p.invalid);
    }

    #[test]
    fn vocab_parameters_are_ignored_last_value_wins() {
        let p = UsagePrefs::parse("train-ai;allow=n, train-ai=y");
        assert_eq!(p.train_ai, Pref::Allow);
    }

    #[test]
    fn unknown_keys_ignored_and_bad_syntax_is_unknown_not_error() {
        assert_eq!(
            UsagePrefs::parse("foo=n, train-ai=n").train_ai,
            Pref::Disallow
        );
        let p = UsagePrefs::parse("Train-AI=n");
        assert!(p.invalid);
        assert_eq!(p.train_ai, Pref::Unknown);
        assert!(UsagePrefs::parse("train-ai=n,,").invalid);
        assert_eq!(UsagePrefs::parse("train-ai=x").train_ai, Pref::Unknown);
    }

    #[test]
    fn combining_is_most_restrictive() {
        let a = UsagePrefs::parse("train-ai=y");
        let b = UsagePrefs::parse("train-ai=n");
        assert_eq!(a.combine(b).train_ai, Pref::Disallow);
        assert_eq!(b.combine(a).train_ai, Pref::Disallow);
    }
}
