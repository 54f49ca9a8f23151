//! The inputs of an offline `optout check`: policy files, a page and headers given on the
//! command line, read within the limits the online path reads, then judged by
//! [`crate::engine::Given`].
//!
//! At most a file's limit and one byte more is read, to know the file was cut, so
//! `/dev/zero` or a file of gigabytes costs no more than a file at the limit.

use crate::cli::CliError;
use crate::config::Config;
use crate::engine::{Given, GivenFile, GivenKind, check_header};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Reads every file given in `args` within the limits of `config`.
pub(super) fn given(config: &Config, args: &super::CheckArgs) -> Result<Given, CliError> {
    // Header flags are checked before any file is read: a usage error costs nothing.
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let read = |path: &Option<PathBuf>, kind| {
        path.as_ref()
            .map(|path| read_bounded(path, Given::read_limit(config, kind)))
            .transpose()
    };
    Ok(Given {
        robots: read(&args.robots, GivenKind::Robots)?,
        tdmrep: read(&args.tdmrep, GivenKind::Tdmrep)?,
        aitxt: read(&args.aitxt, GivenKind::AiTxt)?,
        html: read(&args.html, GivenKind::Html)?,
        headers,
        headers_name: "--header".into(),
    })
}

/// Reads at most `limit + 1` bytes of `path`. A directory is refused by name rather than
/// read (on some systems reading one succeeds with nothing, which would judge as "no file").
fn read_bounded(path: &Path, limit: usize) -> Result<GivenFile, CliError> {
    let failed = |source| CliError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(failed)?;
    if file.metadata().map_err(failed)?.is_dir() {
        return Err(failed(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory, not a file",
        )));
    }
    let mut bytes = Vec::new();
    let room = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(room).read_to_end(&mut bytes).map_err(failed)?;
    Ok(GivenFile {
        name: path.display().to_string(),
        bytes,
    })
}

/// Splits a `--header` flag into its name and value, as an HTTP parser would accept them
/// (RFC 9110 §5.1, §5.5; [`check_header`]), optional whitespace around the value removed.
/// Anything else is a usage error.
pub(super) fn parse_header(flag: &str) -> Result<(String, String), CliError> {
    let usage = |why: &str| CliError::Usage(format!("--header {flag:?}: {why}"));
    let Some((name, value)) = flag.split_once(':') else {
        return Err(usage("expected `Name: value`"));
    };
    if name.is_empty() {
        return Err(usage("expected `Name: value`; the name is empty"));
    }
    check_header(name, value).map_err(usage)?;
    Ok((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_flags_are_http_fields_or_usage_errors() {
        let ok = |f: &str| parse_header(f).unwrap();
        assert_eq!(
            ok("X-Robots-Tag: noai"),
            ("X-Robots-Tag".into(), "noai".into())
        );
        assert_eq!(ok("A:\tb c \t"), ("A".into(), "b c".into()));
        assert_eq!(ok("X-Robots-Tag: bot: noai").1, "bot: noai");
        for bad in [
            "no colon",
            ": noai",
            "X-Robots-Tag: all\r\nX-Robots-Tag: noai",
            "X-Robots-Tag: all\nnoai",
            "X-Robots-Tag: a\0b",
            "X-Robots-Tag: a\x7fb",
            "X Robots Tag: noai",
            "X-Robots-Tag : noai",
            " X-Robots-Tag: noai",
            "X-Robots\x01Tag: noai",
            "X-Röbots: noai",
        ] {
            let e = parse_header(bad).unwrap_err().to_string();
            assert!(e.starts_with("--header "), "{bad:?}: {e}");
            assert!(!e.contains('\n') && !e.contains('\r'), "{e}");
        }
    }
}
