use super::*;

#[test]
fn kv_keys_and_paths_are_percent_decoded() {
    assert_eq!(percent_decode("proof%2F7").unwrap(), b"proof/7");
    assert_eq!(percent_decode("a%20b%ff").unwrap(), b"a b\xff");
    assert_eq!(percent_decode("plain-key").unwrap(), b"plain-key");
    assert!(percent_decode("bad%2").is_err());
    assert!(percent_decode("bad%+1").is_err());
    let uri: Uri = "/node/v1/kv/proof%2F7".parse().unwrap();
    assert_eq!(kv_key(&uri).unwrap(), b"proof/7");
    let uri: Uri = "/node/v1/kv/".parse().unwrap();
    assert!(kv_key(&uri).is_err());
}

use crate::outbound::testing::serve;
use crate::outbound::OutboundPolicy;
use std::sync::atomic::Ordering as AtomicOrdering;

async fn relayed(out: &Outbound, target: &str) -> (StatusCode, String) {
    let node = gradual_types::Keypair::from_seed([7; 32]).pubkey();
    let resp = relay(out, &node, target, Duration::from_secs(5)).await;
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn peer_url_pointing_at_loopback_is_refused() {
    // A staker registered a URL on the node's own loopback: a real server answers there.
    let (addr, hits) = serve(200, None, "internal secret").await;
    let target = format!("http://{addr}/task/x/proof/1");
    let (status, body) = relayed(
        &Outbound::guarded(OutboundPolicy::default()).unwrap(),
        &target,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("127.0.0.1 is a loopback address"), "{body}");
    assert!(body.contains("[outbound]"), "{body}");
    assert!(!body.contains("internal secret"), "{body}");
    assert_eq!(
        hits.load(AtomicOrdering::SeqCst),
        0,
        "the server was called"
    );
    // The same through a name, and through the cloud metadata address.
    let by_name = format!("http://localhost:{}/task/x/proof/1", addr.port());
    let (status, body) = relayed(
        &Outbound::guarded(OutboundPolicy::default()).unwrap(),
        &by_name,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("'localhost'"), "{body}");
    let (status, body) = relayed(
        &Outbound::guarded(OutboundPolicy::default()).unwrap(),
        "http://169.254.169.254/latest/meta-data/",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("link-local"), "{body}");
    assert_eq!(hits.load(AtomicOrdering::SeqCst), 0);
    // Allowed explicitly (as the devnet does), the peer is reached.
    let (status, body) = relayed(
        &Outbound::guarded(OutboundPolicy::with_loopback()).unwrap(),
        &target,
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "internal secret"));
    assert_eq!(hits.load(AtomicOrdering::SeqCst), 1);
}

#[tokio::test]
async fn peer_proxy_does_not_follow_redirects() {
    let (inner, inner_hits) = serve(200, None, "internal secret").await;
    let (peer, peer_hits) = serve(302, Some(format!("http://{inner}/secret")), "").await;
    let target = format!("http://{peer}/task/x/proof/1");
    let out = Outbound::guarded(OutboundPolicy::with_loopback()).unwrap();
    let (status, body) = relayed(&out, &target).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains(&target), "{body}");
    assert!(body.contains("HTTP 302"), "{body}");
    assert!(body.contains("does not follow redirects"), "{body}");
    assert_eq!(peer_hits.load(AtomicOrdering::SeqCst), 1);
    assert_eq!(
        inner_hits.load(AtomicOrdering::SeqCst),
        0,
        "the redirect was followed"
    );
}
