//! The `[crawler_info]` table: what only the operator can say about the crawler (who runs
//! it, how to reach them) and where the published files live. `config/optout.toml`
//! documents every key.

use crate::{ConfigError, MAX_LIST_BYTES, read_bounded};
use optout_policy::Purpose;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The `[crawler_info]` table; defaults as in `config/optout.toml` (a test keeps them equal).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Who runs the crawler (a company or person): the page's and the feed's author.
    pub operator: String,
    /// The point of contact for rightsholders (Code of Practice, Measure 1.5).
    pub contact_email: String,
    /// Where rightsholders file complaints (Measure 1.5): an `https:`, `http:` or `mailto:`
    /// URL.
    pub complaint_url: String,
    /// The URL the written files are published under (`index.html`, `feed.atom`, ...);
    /// empty: `[crawler].contact_url` taken as a directory.
    pub base_url: String,
    /// A file of the crawler's IP ranges, one CIDR prefix a line; empty: none published.
    pub ranges_file: PathBuf,
    /// What the crawler does, in the operator's words.
    pub description: String,
    /// The purposes the crawler collects for; empty: `[crawler].purpose` alone.
    pub purposes: Vec<Purpose>,
}

impl Settings {
    /// Checks every value given; an empty value is "not set" and checked when
    /// `optout crawler-info` needs it ([`Settings::required`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |key: &str, why: String| ConfigError::Invalid(format!("crawler_info.{key} {why}"));
        for (key, value) in [
            ("operator", &self.operator),
            ("contact_email", &self.contact_email),
            ("complaint_url", &self.complaint_url),
            ("base_url", &self.base_url),
            ("description", &self.description),
        ] {
            if value.chars().any(|c| c.is_control() && c != '\n') {
                return Err(invalid(key, "contains a control character".into()));
            }
        }
        if !self.contact_email.is_empty() && !is_email(&self.contact_email) {
            return Err(invalid(
                "contact_email",
                format!("{:?} is not an e-mail address", self.contact_email),
            ));
        }
        if !self.complaint_url.is_empty() {
            web_url(&self.complaint_url, &["https", "http", "mailto"])
                .map_err(|why| invalid("complaint_url", why))?;
        }
        if !self.base_url.is_empty() {
            web_url(&self.base_url, &["https", "http"]).map_err(|why| invalid("base_url", why))?;
        }
        Ok(())
    }

    /// The operator, contact and complaint address: a crawler page without them names no
    /// one to turn to (Measure 1.5), so `optout crawler-info` refuses to write one.
    pub fn required(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("operator", &self.operator),
            ("contact_email", &self.contact_email),
            ("complaint_url", &self.complaint_url),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "crawler_info.{key} is not set; the crawler page must name who runs the crawler and how to reach them (Code of Practice, Measure 1.5)"
                )));
            }
        }
        Ok(())
    }

    /// The base URL the files are published under, ending in `/`: `base_url`, else the
    /// crawler's contact URL.
    pub fn base(&self, contact_url: &str) -> Result<url::Url, ConfigError> {
        let given = if self.base_url.is_empty() {
            contact_url
        } else {
            &self.base_url
        };
        let text = if given.ends_with('/') {
            given.to_owned()
        } else {
            format!("{given}/")
        };
        web_url(&text, &["https", "http"]).map_err(|why| {
            ConfigError::Invalid(format!(
                "crawler_info.base_url (or crawler.contact_url) {why}"
            ))
        })
    }

    /// Reads the ranges file, if one is named: each line one CIDR prefix (`192.0.2.0/24`,
    /// `2001:db8::/32`), `#` comments and blank lines ignored. A bad line is one error naming
    /// the file and the line.
    pub fn ranges(&self) -> Result<Vec<Prefix>, ConfigError> {
        if self.ranges_file.as_os_str().is_empty() {
            return Ok(Vec::new());
        }
        let text = read_bounded(&self.ranges_file, MAX_LIST_BYTES, "ranges file")?;
        parse_ranges(&text, &self.ranges_file)
    }
}

/// One IP range the crawler sends from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    /// The network address (host bits zero).
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl Prefix {
    /// Parses `addr/len`; host bits set below the prefix are an error (a typo, or a host
    /// address given for a range).
    pub fn parse(text: &str) -> Result<Prefix, String> {
        let (addr, len) = text
            .split_once('/')
            .ok_or("is not a CIDR prefix (expected ADDRESS/LENGTH)")?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("prefix length {len:?} is not 0 to {max}"))?;
        let network = mask(addr, len);
        if network != addr {
            return Err(format!(
                "has host bits set below /{len} (did you mean {network}/{len}?)"
            ));
        }
        Ok(Prefix { addr, len })
    }
}

/// `addr` with every bit past the first `len` cleared.
fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a) & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4(bits.into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a) & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6(bits.into())
        }
    }
}

/// Parses a ranges file's text; `path` names it in errors. Duplicates are kept once.
pub fn parse_ranges(text: &str, path: &Path) -> Result<Vec<Prefix>, ConfigError> {
    let mut prefixes = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        let prefix = Prefix::parse(entry).map_err(|why| {
            let shown: String = entry.chars().take(80).filter(|c| !c.is_control()).collect();
            ConfigError::Invalid(format!(
                "ranges file {} line {}: {shown:?} {why}",
                path.display(),
                n + 1
            ))
        })?;
        if !prefixes.contains(&prefix) {
            prefixes.push(prefix);
        }
    }
    Ok(prefixes)
}

/// An absolute URL of one of `schemes`, or why not.
fn web_url(text: &str, schemes: &[&str]) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!(
            "{text:?} is not a {} URL",
            schemes.join(":, ") + ":"
        ));
    }
    if url.scheme() != "mailto" && url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    Ok(url)
}

/// `local@domain`, without spaces, angle brackets or quotes: an address a mail client takes
/// as it stands.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"'(),;:[]\\".contains(c))
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_is_the_default() {
        let table: toml::Table = toml::from_str(crate::DEFAULT_TOML).unwrap();
        let shipped: Settings = table["crawler_info"].clone().try_into().unwrap();
        assert_eq!(shipped, Settings::default());
        assert_eq!(crate::Config::default().crawler_info, shipped);
    }

    #[test]
    fn prefixes_parse_and_host_bits_are_refused() {
        assert_eq!(
            Prefix::parse("192.0.2.0/24").unwrap().to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(
            Prefix::parse("2001:0db8:0000::/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert_eq!(Prefix::parse("0.0.0.0/0").unwrap().len, 0);
        assert_eq!(Prefix::parse("::1/128").unwrap().len, 128);
        for bad in [
            "192.0.2.1/24",
            "192.0.2.0/33",
            "192.0.2.0",
            "example.com/8",
            "::/129",
            "1.2.3.4/-1",
            "/",
        ] {
            assert!(Prefix::parse(bad).is_err(), "{bad}");
        }
        let err = Prefix::parse("192.0.2.1/24").unwrap_err();
        assert!(err.contains("192.0.2.0/24"), "{err}");
    }

    #[test]
    fn a_bad_line_names_the_file_and_the_line() {
        let text = "# ours\n192.0.2.0/24\n\n2001:db8::/32 # v6\n192.0.2.0/24\n10.0.0.1/8\n";
        let err = parse_ranges(text, Path::new("ranges.txt")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config: ranges file ranges.txt line 6: \"10.0.0.1/8\" has host bits set below /8 (did you mean 10.0.0.0/8?)"
        );
        let good = parse_ranges(&text.replace("10.0.0.1/8", ""), Path::new("r")).unwrap();
        let shown: Vec<String> = good.iter().map(Prefix::to_string).collect();
        assert_eq!(shown, ["192.0.2.0/24", "2001:db8::/32"]);
    }

    #[test]
    fn values_are_checked() {
        let ok = Settings {
            contact_email: "crawler@example.org".into(),
            complaint_url: "mailto:complaints@example.org".into(),
            base_url: "https://example.org/crawler".into(),
            ..Settings::default()
        };
        ok.validate().unwrap();
        assert_eq!(
            ok.base("").unwrap().as_str(),
            "https://example.org/crawler/"
        );
        for bad in [
            Settings {
                contact_email: "not an address".into(),
                ..ok.clone()
            },
            Settings {
                contact_email: "a@b".into(),
                ..ok.clone()
            },
            Settings {
                complaint_url: "javascript:alert(1)".into(),
                ..ok.clone()
            },
            Settings {
                base_url: "ftp://example.org/".into(),
                ..ok.clone()
            },
            Settings {
                operator: "a\u{1}b".into(),
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let err = Settings::default().required().unwrap_err().to_string();
        assert!(err.contains("crawler_info.operator is not set"), "{err}");
    }
}
