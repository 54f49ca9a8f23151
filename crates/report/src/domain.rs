//! The domain a record counts under: the registrable ("second-level") domain of its URL's
//! host, as section 2.3 of the AI Office template asks ("top and second level, e.g.
//! `example.com`"), from the Public Suffix List (`psl`): `www.example.co.uk` counts as
//! `example.co.uk`.
//!
//! Hosts come from the web and from a log a user hands us: an IP address counts as itself,
//! a name without a registrable part (`localhost`, `co.uk`) as itself, and a URL that does
//! not parse, or has no host, under [`NO_HOST`]. Nothing here panics.

/// What a record without a usable host counts under.
pub const NO_HOST: &str = "(no host)";

/// The registrable domain of `url`'s host (lower case, without a trailing dot).
pub fn of_url(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(of_host))
        .unwrap_or_else(|| NO_HOST.to_owned())
}

/// The registrable domain of `host`.
pub fn of_host(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return NO_HOST.to_owned();
    }
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    match psl::domain_str(&host) {
        Some(domain) => domain.to_owned(),
        None => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_count_under_their_registrable_domain() {
        for (url, domain) in [
            ("https://www.example.com/a", "example.com"),
            ("https://a.b.example.co.uk/", "example.co.uk"),
            ("https://EXAMPLE.com./", "example.com"),
            ("http://127.0.0.1:8080/x", "127.0.0.1"),
            ("http://[::1]:8080/x", "[::1]"),
            ("http://localhost/", "localhost"),
            ("https://co.uk/", "co.uk"),
            ("https://bücher.example/", "xn--bcher-kva.example"),
            ("https://www.xn--bcher-kva.de/", "xn--bcher-kva.de"),
            ("https://a.b.c.unknowntld/", "c.unknowntld"),
            ("not a url", NO_HOST),
            ("data:text/plain,x", NO_HOST),
            ("", NO_HOST),
        ] {
            assert_eq!(of_url(url), domain, "{url}");
        }
        for host in ["...", ".", "a..b", "\u{0}", "-.-", "1.2.3.4.5"] {
            let _ = of_host(host);
        }
        assert_eq!(of_host("."), NO_HOST);
    }
}
