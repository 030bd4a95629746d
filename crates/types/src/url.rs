//! Node URLs (SPEC §7 [v2]): what peers and honest nodes will fetch, so a staker cannot point
//! them at something that is not a plain web address.

use crate::constants::URL_BYTES_MAX;

/// Why a node URL was refused.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, borsh::BorshSerialize, borsh::BorshDeserialize,
)]
#[non_exhaustive]
pub enum UrlError {
    #[error("url is {got} bytes, the most is {max}")]
    TooLong { got: u64, max: u64 },
    #[error("url must start with http:// or https://")]
    Scheme,
    #[error("url has no host")]
    NoHost,
    #[error("url must not carry user info (user:password@)")]
    UserInfo,
    #[error("url must not contain whitespace or control characters")]
    BadCharacter,
}

/// Check a node URL: http or https, a host, no user info, no whitespace, bounded length.
/// The empty string means "no URL" and is accepted (a node that serves no peer routes).
pub fn validate_node_url(url: &str) -> Result<(), UrlError> {
    if url.is_empty() {
        return Ok(());
    }
    if url.len() > URL_BYTES_MAX {
        return Err(UrlError::TooLong {
            got: url.len() as u64,
            max: URL_BYTES_MAX as u64,
        });
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::BadCharacter);
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or(UrlError::Scheme)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(UrlError::UserInfo);
    }
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls_are_plain_web_addresses() {
        for ok in [
            "",
            "http://127.0.0.1:10001",
            "https://node.example.com/base",
            "http://[::1]:8080/",
        ] {
            assert_eq!(validate_node_url(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_node_url("ftp://x"), Err(UrlError::Scheme));
        assert_eq!(
            validate_node_url("file:///etc/passwd"),
            Err(UrlError::Scheme)
        );
        assert_eq!(validate_node_url("http://"), Err(UrlError::NoHost));
        assert_eq!(validate_node_url("http://:80/"), Err(UrlError::NoHost));
        assert_eq!(
            validate_node_url("http://user:pw@host/"),
            Err(UrlError::UserInfo)
        );
        assert_eq!(
            validate_node_url("http://host/ x"),
            Err(UrlError::BadCharacter)
        );
        let long = format!("http://{}", "a".repeat(URL_BYTES_MAX));
        assert!(matches!(
            validate_node_url(&long),
            Err(UrlError::TooLong { .. })
        ));
    }
}
