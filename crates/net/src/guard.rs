//! No requests where they must not go: loopback, private, link-local, multicast and
//! unspecified addresses are refused, checked on the address a name *resolves* to (a public
//! name can point at 127.0.0.1), unless the configuration allows them.
//!
//! A crawler that follows links and redirects from the web would otherwise reach the
//! operator's own network (server-side request forgery).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether optout refuses to connect to `ip` by default.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || a == 0 // "this network" (RFC 791)
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || a >= 240 // reserved (RFC 1112)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking (RFC 2544)
        || ip.is_documentation()
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (RFC 4193)
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || ip.to_ipv4().is_some_and(forbidden_v4) // IPv4-compatible (::a.b.c.d)
        || embedded_v4(ip).is_some_and(forbidden_v4)
        || (first == 0x2001 && ip.segments()[1] == 0) // Teredo (RFC 4380): tunnels anywhere
        || (first == 0x0064 && ip.segments()[1] == 0xff9b && ip.segments()[2] == 1) // local NAT64
}

/// The IPv4 address carried by NAT64 (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16,
/// RFC 3056) addresses: where such a network routes them, they reach that address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else {
        None
    }
}

/// The error a guarded lookup gives when a name resolves only to refused addresses.
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves to {addr}, a loopback, private, link-local, multicast or unspecified address"
)]
pub struct PrivateAddress {
    /// The name looked up.
    pub host: String,
    /// The first refused address.
    pub addr: IpAddr,
}

/// The error a lookup gives when a name does not resolve.
#[derive(Debug, thiserror::Error)]
#[error("{host} does not resolve: {message}")]
pub struct Unresolvable {
    /// The name looked up.
    pub host: String,
    /// What the resolver said.
    pub message: String,
}

/// Resolves `url`'s host and refuses it if it is, or any of its addresses is, a refused
/// address: an early refusal for clients optout may not have built (the reqwest-middleware
/// layer). Stricter than [`GuardedResolver`], which drops refused addresses and keeps the
/// others, because here the client picks the address. It cannot be the last word: the
/// client resolves the name again, and the answer can change in between (DNS rebinding).
/// The middleware also checks the address each response came from.
pub async fn check_host(url: &url::Url) -> Result<(), crate::FetchError> {
    use crate::FetchError;
    let refused = |ip: IpAddr| {
        FetchError::PrivateAddress(format!(
            "{} resolves to {ip}, a loopback, private, link-local, multicast or unspecified address",
            url.host_str().unwrap_or_default()
        ))
    };
    let host = match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            return if is_forbidden(ip.into()) {
                Err(refused(ip.into()))
            } else {
                Ok(())
            };
        }
        Some(url::Host::Ipv6(ip)) => {
            return if is_forbidden(ip.into()) {
                Err(refused(ip.into()))
            } else {
                Ok(())
            };
        }
        Some(url::Host::Domain(host)) => host,
        None => return Err(FetchError::Unresolvable("the URL has no host".into())),
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| FetchError::Unresolvable(format!("{host} does not resolve: {e}")))?;
    for addr in addrs {
        if is_forbidden(addr.ip()) {
            return Err(refused(addr.ip()));
        }
    }
    Ok(())
}

/// A resolver that drops refused addresses; a name with only refused addresses is an error.
#[derive(Debug, Default)]
pub struct GuardedResolver {
    /// Keep refused addresses (the `allow_private_addresses` setting).
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Unresolvable {
                    host: host.clone(),
                    message: e.to_string(),
                })?
                .collect();
            let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
                .into_iter()
                .partition(|a| allow_private || !is_forbidden(a.ip()));
            match (kept.is_empty(), refused.first()) {
                (true, Some(first)) => Err(Box::new(PrivateAddress {
                    host,
                    addr: first.ip(),
                }) as _),
                (true, None) => Err(Box::new(Unresolvable {
                    host,
                    message: "no addresses".into(),
                }) as _),
                _ => Ok(Box::new(kept.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_ranges() {
        for ip in [
            "127.0.0.1",
            "127.0.0.200",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.2.1",
            "203.0.113.5",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:2800:220:1::",
            "100.128.0.1",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_name_for_loopback_is_refused_unless_allowed() {
        let name: Name = "localhost".parse().unwrap();
        let err = GuardedResolver::default()
            .resolve(name)
            .await
            .err()
            .unwrap();
        assert!(err.downcast_ref::<PrivateAddress>().is_some(), "{err}");
        let name: Name = "localhost".parse().unwrap();
        let allowed = GuardedResolver {
            allow_private: true,
        };
        assert!(allowed.resolve(name).await.is_ok());
    }
}
