//! `[receiver]`: the receiver's durability, caps, deadlines and TLS port.

/// Connections at once, in any phase, unless the site says otherwise.
pub const MAX_ASSOCIATIONS: usize = 64;
/// Connections at once from one calling host.
pub const MAX_PER_ADDRESS: usize = 24;
/// Associations at once under one calling AE title from one host.
pub const MAX_PER_AE: usize = 16;

/// How a received instance is made durable before Success is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    Strict,
    Grouped,
}

/// `[receiver]` in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiverConfig {
    pub durability: Durability,
    /// Flush window of `grouped`, in milliseconds.
    pub group_ms: u64,
    /// Calling AE titles allowed to send (empty: any).
    pub allow: Vec<String>,
    /// Connections at once, in any phase (beyond: refused, transient, local limit exceeded).
    pub max_associations: usize,
    /// Connections at once from one calling host (in their handshake or associated; an IPv6
    /// /64 is one host).
    pub max_per_address: usize,
    /// Associations at once under one calling AE title from one host.
    pub max_per_ae: usize,
    /// Seconds from a connection's first byte to an established association (TLS handshake
    /// included); a caller that has not associated by then is closed.
    pub handshake_seconds: u64,
    /// Seconds an association may stay silent between messages before it is aborted.
    pub timeout_seconds: u64,
    /// Within a message, the slowest a peer may send on average, in bytes per second: a
    /// message must arrive within `timeout_seconds` plus its size at this rate. A trickle is
    /// aborted; a large instance on a slow link is not.
    pub min_bytes_per_second: u64,
    /// A second port for DICOM over TLS (with `tls_cert` and `tls_key`; 2762 is the usual).
    pub tls_port: Option<u16>,
    /// PEM certificate and key the receiver presents on its TLS port.
    pub tls_cert: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    /// PEM CA file: callers on the TLS port must present a certificate chaining to it.
    pub tls_ca: Option<std::path::PathBuf>,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            durability: Durability::Strict,
            group_ms: 200,
            allow: Vec::new(),
            max_associations: MAX_ASSOCIATIONS,
            max_per_address: MAX_PER_ADDRESS,
            max_per_ae: MAX_PER_AE,
            handshake_seconds: 10,
            timeout_seconds: 60,
            min_bytes_per_second: 16 << 10,
            tls_port: None,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
        }
    }
}
