//! The `[net]` table: timeouts, caps and the policy-source cache of the network edge.

use serde::Deserialize;

/// The `[net]` table. Its defaults ([`Net::default`]) are the values in
/// `config/optout.toml`; a test keeps the two equal.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Net {
    /// Milliseconds to wait for a TCP/TLS connection.
    pub connect_timeout_ms: u64,
    /// Milliseconds to wait for the next bytes of a response.
    pub read_timeout_ms: u64,
    /// Milliseconds a whole request may take, body included.
    pub total_timeout_ms: u64,
    /// Bytes of a response body that are read (fetched pages; policy files stop at the parse
    /// limit).
    pub max_body_bytes: usize,
    /// Connect to loopback, private, link-local, multicast and unspecified addresses.
    pub allow_private_addresses: bool,
    /// Fetch `/.well-known/tdmrep.json` for every origin.
    pub fetch_tdmrep: bool,
    /// Fetch `/ai.txt` for every origin.
    pub fetch_aitxt: bool,
    /// Origins whose policy files are kept in memory.
    pub cache_entries: usize,
    /// Bytes of policy files kept in memory.
    pub cache_bytes: usize,
    /// Seconds before an unreachable policy file is tried again; doubled on each further
    /// failure.
    pub retry_unreachable_s: u64,
    /// The longest wait between tries of an unreachable policy file, in seconds.
    pub retry_unreachable_max_s: u64,
    /// URLs checked at once by `optout check`.
    pub check_concurrency: usize,
}

impl Default for Net {
    fn default() -> Net {
        Net {
            connect_timeout_ms: 10_000,
            read_timeout_ms: 20_000,
            total_timeout_ms: 60_000,
            max_body_bytes: 16 * 1024 * 1024,
            allow_private_addresses: false,
            fetch_tdmrep: true,
            fetch_aitxt: true,
            cache_entries: 10_000,
            cache_bytes: 256 * 1024 * 1024,
            retry_unreachable_s: 60,
            retry_unreachable_max_s: 3600,
            check_concurrency: 32,
        }
    }
}
