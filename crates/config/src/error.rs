//! Why a configuration is refused, and reading a file with a bound on its size.

use std::path::{Path, PathBuf};

/// Why a configuration was rejected. Each message is one line a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        /// What the file is (`config file`, `list file`, `seeds file`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said, on one line.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid config: {0}")]
    Invalid(String),
    /// A duration or count is over its documented maximum ([`max`](crate::max)).
    #[error("invalid config: {key} = {value} is over its maximum of {max}")]
    OverMaximum {
        /// The key, e.g. `politeness.min_interval_ms`.
        key: String,
        /// The value given.
        value: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// The file is larger than optout reads of such a file.
    #[error("cannot read {what} {path}: larger than {limit} bytes")]
    TooLarge {
        /// Which file it is ("config file", "list file").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The most bytes read.
        limit: u64,
    },
    /// A directory was named where a file belongs.
    #[error("cannot read {what} {path}: it is a directory")]
    Directory {
        /// Which file it is ("config file", "list file").
        what: &'static str,
        /// The directory.
        path: PathBuf,
    },
}

/// Reads `path` as UTF-8 text of at most `limit` bytes: never more than `limit + 1` bytes are
/// read, so a device (`/dev/zero`) or a huge file fails at once.
pub fn read_bounded(path: &Path, limit: u64, what: &'static str) -> Result<String, ConfigError> {
    use std::io::Read;
    let io = |source| ConfigError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.is_dir() {
        return Err(ConfigError::Directory {
            what,
            path: path.to_owned(),
        });
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ConfigError::TooLarge {
            what,
            path: path.to_owned(),
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))
    })
}

/// What the TOML parser said, on one line, after the line it is about (so that a value the
/// key's type cannot hold, such as `max_retries = 18446744073709551615`, names its key).
pub(crate) fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().replace('\n', " ");
    let Some(start) = e.span().map(|s| s.start).filter(|s| *s <= text.len()) else {
        return message;
    };
    let before = text.as_bytes()[..start]
        .iter()
        .filter(|b| **b == b'\n')
        .count();
    let line: String = text
        .lines()
        .nth(before)
        .unwrap_or_default()
        .trim()
        .chars()
        .take(80)
        .filter(|c| !c.is_control())
        .collect();
    format!("line {} `{line}`: {message}", before + 1)
}
