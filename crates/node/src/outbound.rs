//! The node's own outbound HTTP calls to URLs that strangers chose: a staker's registered peer
//! URL (the peer proxy) and a task creator's `executable.urls` (artifact downloads).
//!
//! Without a guard, a staker could register `http://169.254.169.254/...` (cloud metadata), an
//! internal service or the node's own loopback ports and have every honest node fetch it. So
//! these calls:
//! - follow no redirects (a 3xx is an error naming the target), and
//! - refuse loopback, link-local, private, unspecified, multicast, broadcast and reserved
//!   addresses unless the operator allows them in `[outbound]`. IP-literal hosts are checked
//!   directly (reqwest calls no resolver for them); host names go through [`GuardedResolver`],
//!   which drops disallowed addresses from the answer itself, so a name cannot rebind to a
//!   private address between a check and the connect.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// A kind of address that is not on the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// `0.0.0.0/8`, `::` (on Linux, connecting to it reaches the host itself).
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), RFC 4193 `fc00::/7`, site-local `fec0::/10`.
    Private,
    /// Carrier-grade NAT `100.64.0.0/10` (RFC 6598).
    SharedCgnat,
    /// `169.254.0.0/16` (cloud metadata lives here), `fe80::/10`.
    LinkLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Other special-purpose ranges (`240/4`, `192.0.0/24`, `198.18/15`, `::/96`, `100::/64`,
    /// `64:ff9b:1::/48`).
    Reserved,
}

impl Special {
    /// Whether `allow_private = true` lets this kind through: private networks only, never
    /// loopback or link-local (those need an explicit `allow` entry).
    pub fn is_private_network(self) -> bool {
        matches!(self, Special::Private | Special::SharedCgnat)
    }
}

impl fmt::Display for Special {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Special::Unspecified => "an unspecified",
            Special::Loopback => "a loopback",
            Special::Private => "a private-network",
            Special::SharedCgnat => "a carrier-grade NAT (100.64.0.0/10)",
            Special::LinkLocal => "a link-local",
            Special::Multicast => "a multicast",
            Special::Broadcast => "a broadcast",
            Special::Reserved => "a reserved",
        })
    }
}

/// What kind of special address `ip` is; `None` for a public address.
pub fn classify(ip: IpAddr) -> Option<Special> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<Special> {
    let table: [([u8; 4], u32, Special); 12] = [
        ([0, 0, 0, 0], 8, Special::Unspecified),
        ([127, 0, 0, 0], 8, Special::Loopback),
        ([10, 0, 0, 0], 8, Special::Private),
        ([172, 16, 0, 0], 12, Special::Private),
        ([192, 168, 0, 0], 16, Special::Private),
        ([100, 64, 0, 0], 10, Special::SharedCgnat),
        ([169, 254, 0, 0], 16, Special::LinkLocal),
        ([224, 0, 0, 0], 4, Special::Multicast),
        ([255, 255, 255, 255], 32, Special::Broadcast),
        ([240, 0, 0, 0], 4, Special::Reserved),
        ([192, 0, 0, 0], 24, Special::Reserved),
        ([198, 18, 0, 0], 15, Special::Reserved),
    ];
    table
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, kind)| *kind)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Special> {
    let s = ip.segments();
    // IPv4-mapped (::ffff:a.b.c.d) is how dual-stack sockets reach IPv4: judge the IPv4.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 through a translator: judge that too.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded_v4(&s));
    }
    if ip.is_unspecified() {
        return Some(Special::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Special::Loopback);
    }
    match s[0] {
        x if x & 0xfe00 == 0xfc00 => Some(Special::Private), // fc00::/7
        x if x & 0xffc0 == 0xfec0 => Some(Special::Private), // fec0::/10, deprecated site-local
        x if x & 0xffc0 == 0xfe80 => Some(Special::LinkLocal), // fe80::/10
        x if x & 0xff00 == 0xff00 => Some(Special::Multicast), // ff00::/8
        _ if s[..6] == [0; 6] => Some(Special::Reserved),    // ::/96, IPv4-compatible
        _ if s[..4] == [0x100, 0, 0, 0] => Some(Special::Reserved), // 100::/64, discard
        _ if s[..3] == [0x64, 0xff9b, 1] => Some(Special::Reserved), // local-use NAT64
        _ => None,
    }
}

fn embedded_v4(s: &[u16; 8]) -> Ipv4Addr {
    let [a, b] = s[6].to_be_bytes();
    let [c, d] = s[7].to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// One `allow` entry: an address, or a network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

impl FromStr for Net {
    type Err = String;

    /// Strict: `10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`; no spaces, no host bits past
    /// the prefix (a typo there would silently widen or narrow the network).
    fn from_str(s: &str) -> Result<Net, String> {
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("'{addr_text}' is not an IPv4 or IPv6 address"))?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(format!("prefix '/{p}' must be a number from 0 to {max}")),
            },
        };
        let net = Net { addr, prefix };
        let masked = match addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        if masked != addr {
            return Err(format!(
                "'{s}' has bits set past the /{prefix} prefix; write {masked}/{prefix}"
            ));
        }
        Ok(net)
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// The operator's `[outbound]` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Allow private networks (RFC 1918, `fc00::/7`, `100.64/10`); not loopback nor link-local.
    pub allow_private: bool,
    /// Addresses and networks allowed whatever their kind.
    pub allow: Vec<Net>,
}

impl OutboundPolicy {
    /// Loopback allowed, for networks run on one machine (devnet, tests).
    pub fn with_loopback() -> OutboundPolicy {
        OutboundPolicy {
            allow_private: false,
            allow: vec![
                Net {
                    addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                    prefix: 8,
                },
                Net {
                    addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                    prefix: 128,
                },
            ],
        }
    }

    /// `Ok` if the node may connect to `ip`; else the kind of address refused.
    pub fn check(&self, ip: IpAddr) -> Result<(), Special> {
        if self.allow.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        match classify(ip) {
            None => Ok(()),
            Some(k) if k.is_private_network() && self.allow_private => Ok(()),
            Some(k) => Err(k),
        }
    }
}

/// Why an outbound call was not made, or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    #[error("refused to connect to '{host}': {addr} is {kind} address, which the node does not call for URLs others chose; to allow it, add \"{addr}\" (or its network) to `allow` in the [outbound] section of the node config{}", if kind.is_private_network() { " or set allow_private = true there" } else { "" })]
    Refused {
        host: String,
        addr: IpAddr,
        kind: Special,
    },
    #[error("cannot resolve '{host}': {reason}")]
    Resolve { host: String, reason: String },
    #[error("{url} answered HTTP {status}, a redirect to '{location}'; the node does not follow redirects for URLs others chose: publish the final URL instead")]
    Redirect {
        url: String,
        status: u16,
        location: String,
    },
    #[error("'{url}': {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{url}: {reason}")]
    Failed { url: String, reason: String },
    /// Never expected: no fallback to an unguarded client.
    #[error("cannot build the HTTP client for outbound calls: {0}")]
    Client(String),
}

/// A DNS resolver that drops the addresses the policy refuses, so what was checked is what
/// the connection uses.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<OutboundPolicy>) -> GuardedResolver {
        GuardedResolver { policy }
    }

    /// Resolve `host` and keep the allowed addresses (port 0: reqwest sets the port).
    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, OutboundError> {
        let found =
            tokio::net::lookup_host((host, 0))
                .await
                .map_err(|e| OutboundError::Resolve {
                    host: host.to_string(),
                    reason: e.to_string(),
                })?;
        let mut allowed = Vec::new();
        let mut refused = None;
        for a in found {
            match self.policy.check(a.ip()) {
                Ok(()) => allowed.push(a),
                Err(kind) => {
                    refused.get_or_insert((a.ip(), kind));
                }
            }
        }
        match (allowed.is_empty(), refused) {
            (false, _) => Ok(allowed),
            (true, Some((addr, kind))) => Err(OutboundError::Refused {
                host: host.to_string(),
                addr,
                kind,
            }),
            (true, None) => Err(OutboundError::Resolve {
                host: host.to_string(),
                reason: "no addresses".into(),
            }),
        }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let addrs = this.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client for outbound calls: no redirects, no system proxy (a proxy would resolve
/// names itself, past the guard), and, unless trusted, the address guard.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// `None`: trusted target (the operator's own validator), no address guard.
    policy: Option<Arc<OutboundPolicy>>,
    http: reqwest::Client,
}

impl Outbound {
    /// For URLs others chose: every address checked against `policy`.
    pub fn guarded(policy: OutboundPolicy) -> Result<Outbound, OutboundError> {
        let policy = Arc::new(policy);
        let http = builder()
            .dns_resolver(Arc::new(GuardedResolver::new(policy.clone())))
            .build()
            .map_err(|e| OutboundError::Client(e.to_string()))?;
        Ok(Outbound {
            policy: Some(policy),
            http,
        })
    }

    /// For URLs the operator chose (its validator): no address guard, still no redirects.
    pub fn trusted() -> Result<Outbound, OutboundError> {
        let http = builder()
            .build()
            .map_err(|e| OutboundError::Client(e.to_string()))?;
        Ok(Outbound { policy: None, http })
    }

    /// Parse `url` and, if its host is an IP literal, check it (reqwest resolves no literal).
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, OutboundError> {
        let bad = |reason: &str| OutboundError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("only http:// and https:// URLs are fetched"));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| bad("the URL has no host"))?;
        // The URL parser has already normalised odd IPv4 forms (`2130706433`, `0x7f.1`).
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let (Some(policy), Ok(ip)) = (&self.policy, literal.parse::<IpAddr>()) {
            policy.check(ip).map_err(|kind| OutboundError::Refused {
                host: host.to_string(),
                addr: ip,
                kind,
            })?;
        }
        Ok(parsed)
    }

    /// `GET url`: any status but a redirect comes back as the answer.
    pub async fn get(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<reqwest::Response, OutboundError> {
        let parsed = self.check_url(url)?;
        let resp = self
            .http
            .get(parsed)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| explain(url, &e))?;
        if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            return Err(OutboundError::Redirect {
                url: url.to_string(),
                status: resp.status().as_u16(),
                location,
            });
        }
        Ok(resp)
    }
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
}

/// A reqwest error in words: our own refusal if it is one (reqwest's text hides it in the
/// source chain), else the whole chain.
fn explain(url: &str, e: &reqwest::Error) -> OutboundError {
    let mut reasons = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(ours) = s.downcast_ref::<OutboundError>() {
            return ours.clone();
        }
        reasons.push(s.to_string());
        source = s.source();
    }
    reasons.dedup();
    OutboundError::Failed {
        url: url.to_string(),
        reason: reasons.join(": "),
    }
}

/// Read at most `max` bytes of an answer.
pub async fn read_capped(
    url: &str,
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, OutboundError> {
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len().saturating_add(c.len()) > max {
                    return Err(OutboundError::Failed {
                        url: url.to_string(),
                        reason: format!("the answer is over {max} bytes"),
                    });
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(explain(url, &e)),
        }
    }
}

/// A loopback HTTP server for tests of outbound calls.
#[cfg(test)]
pub(crate) mod testing {
    use std::net::SocketAddr;
    use std::sync::Arc;

    /// A one-route loopback server: answers `status` with `location`, counts requests.
    pub async fn serve(
        status: u16,
        location: Option<String>,
        body: &'static str,
    ) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use axum::http::{header, StatusCode};
        use axum::response::IntoResponse;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            let location = location.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let status = StatusCode::from_u16(status).unwrap();
                match location {
                    Some(l) => (status, [(header::LOCATION, l)], body).into_response(),
                    None => (status, body).into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (addr, hits)
    }
}

#[cfg(test)]
mod tests;
