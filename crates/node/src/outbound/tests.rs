use super::testing::serve;
use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ipv4_special_ranges_are_classified() {
    use Special::*;
    for (a, want) in [
        ("0.0.0.0", Some(Unspecified)),
        ("0.1.2.3", Some(Unspecified)),
        ("127.0.0.1", Some(Loopback)),
        ("127.255.255.254", Some(Loopback)),
        ("10.0.0.1", Some(Private)),
        ("172.16.0.1", Some(Private)),
        ("172.31.255.255", Some(Private)),
        ("192.168.1.1", Some(Private)),
        ("100.64.0.1", Some(SharedCgnat)),
        ("100.127.255.255", Some(SharedCgnat)),
        ("169.254.169.254", Some(LinkLocal)),
        ("224.0.0.1", Some(Multicast)),
        ("239.255.255.255", Some(Multicast)),
        ("255.255.255.255", Some(Broadcast)),
        ("240.0.0.1", Some(Reserved)),
        ("192.0.0.8", Some(Reserved)),
        ("198.18.0.1", Some(Reserved)),
        // Edges just outside the ranges are public.
        ("172.15.255.255", None),
        ("172.32.0.0", None),
        ("100.63.255.255", None),
        ("100.128.0.0", None),
        ("126.255.255.255", None),
        ("128.0.0.0", None),
        ("169.253.255.255", None),
        ("192.167.255.255", None),
        ("198.20.0.0", None),
        ("223.255.255.255", None),
        ("1.1.1.1", None),
        ("8.8.8.8", None),
        ("203.0.113.7", None),
    ] {
        assert_eq!(classify(ip(a)), want, "{a}");
    }
}

#[test]
fn ipv6_special_ranges_are_classified() {
    use Special::*;
    for (a, want) in [
        ("::", Some(Unspecified)),
        ("::1", Some(Loopback)),
        ("fc00::1", Some(Private)),
        ("fd12:3456::1", Some(Private)),
        ("fec0::1", Some(Private)),
        ("fe80::1", Some(LinkLocal)),
        ("febf::1", Some(LinkLocal)),
        ("ff02::1", Some(Multicast)),
        ("::7f00:1", Some(Reserved)),
        ("100::1", Some(Reserved)),
        ("64:ff9b:1::1", Some(Reserved)),
        ("fbff:ffff::1", None),
        ("2001:4860:4860::8888", None),
        ("2606:4700::1111", None),
    ] {
        assert_eq!(classify(ip(a)), want, "{a}");
    }
}

#[test]
fn ipv4_inside_ipv6_is_judged_as_ipv4() {
    use Special::*;
    for (a, want) in [
        ("::ffff:127.0.0.1", Some(Loopback)),
        ("::ffff:169.254.169.254", Some(LinkLocal)),
        ("::ffff:10.1.2.3", Some(Private)),
        ("::ffff:0.0.0.0", Some(Unspecified)),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::a9fe:a9fe", Some(LinkLocal)),
        ("64:ff9b::7f00:1", Some(Loopback)),
        ("64:ff9b::808:808", None),
    ] {
        assert_eq!(classify(ip(a)), want, "{a}");
    }
}

#[test]
fn allow_entries_parse_strictly() {
    let n: Net = "10.0.0.0/8".parse().unwrap();
    assert!(n.contains(ip("10.200.1.1")));
    assert!(n.contains(ip("::ffff:10.0.0.1")));
    assert!(!n.contains(ip("11.0.0.1")));
    assert!(!n.contains(ip("::1")));
    let one: Net = "127.0.0.1".parse().unwrap();
    assert!(one.contains(ip("127.0.0.1")));
    assert!(!one.contains(ip("127.0.0.2")));
    assert_eq!(one.to_string(), "127.0.0.1");
    let all: Net = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains(ip("169.254.169.254")));
    let v6: Net = "fd00::/8".parse().unwrap();
    assert!(v6.contains(ip("fd12::1")));
    assert!(!v6.contains(ip("fe80::1")));
    assert_eq!(v6.to_string(), "fd00::/8");
    for (bad, want) in [
        ("10.0.0.1/8", "write 10.0.0.0/8"),
        ("10.0.0.0/33", "from 0 to 32"),
        ("::/129", "from 0 to 128"),
        ("10.0.0.0/+8", "from 0 to 32"),
        ("10.0.0.0/", "from 0 to 32"),
        ("localhost", "not an IPv4 or IPv6 address"),
        (" 10.0.0.1", "not an IPv4 or IPv6 address"),
        ("[::1]", "not an IPv4 or IPv6 address"),
        ("10.0.0.0/8/8", "from 0 to 32"),
        ("", "not an IPv4 or IPv6 address"),
    ] {
        let e = bad.parse::<Net>().unwrap_err();
        assert!(e.contains(want), "{bad}: {e}");
    }
}

#[test]
fn policy_defaults_refuse_and_settings_allow() {
    let p = OutboundPolicy::default();
    assert_eq!(p.check(ip("8.8.8.8")), Ok(()));
    assert_eq!(p.check(ip("10.0.0.1")), Err(Special::Private));
    assert_eq!(p.check(ip("127.0.0.1")), Err(Special::Loopback));
    let private = OutboundPolicy {
        allow_private: true,
        allow: vec![],
    };
    assert_eq!(private.check(ip("10.0.0.1")), Ok(()));
    assert_eq!(private.check(ip("fd00::1")), Ok(()));
    assert_eq!(private.check(ip("100.64.0.1")), Ok(()));
    // allow_private never opens loopback or the metadata range.
    assert_eq!(private.check(ip("127.0.0.1")), Err(Special::Loopback));
    assert_eq!(
        private.check(ip("169.254.169.254")),
        Err(Special::LinkLocal)
    );
    let lo = OutboundPolicy::with_loopback();
    assert_eq!(lo.check(ip("127.0.0.1")), Ok(()));
    assert_eq!(lo.check(ip("::1")), Ok(()));
    assert_eq!(lo.check(ip("::ffff:127.0.0.1")), Ok(()));
    assert_eq!(lo.check(ip("10.0.0.1")), Err(Special::Private));
}

#[test]
fn refusals_say_how_to_allow() {
    let e = Outbound::guarded(OutboundPolicy::default())
        .unwrap()
        .check_url("http://169.254.169.254/latest/meta-data")
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("169.254.169.254 is a link-local address"),
        "{text}"
    );
    assert!(text.contains("[outbound]"), "{text}");
    assert!(!text.contains("allow_private"), "{text}");
    let e = Outbound::guarded(OutboundPolicy::default())
        .unwrap()
        .check_url("http://10.1.2.3:8080/x")
        .unwrap_err();
    assert!(e.to_string().contains("allow_private = true"), "{e}");
}

#[test]
fn odd_spellings_of_loopback_are_caught() {
    let out = Outbound::guarded(OutboundPolicy::default()).unwrap();
    for url in [
        "http://127.0.0.1:1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0:8080/",
        "http://[::]/",
    ] {
        assert!(
            matches!(out.check_url(url), Err(OutboundError::Refused { .. })),
            "{url}: {:?}",
            out.check_url(url)
        );
    }
    assert!(out.check_url("http://8.8.8.8/").is_ok());
    assert!(out.check_url("https://example.com/a").is_ok());
    assert!(matches!(
        out.check_url("file:///etc/passwd"),
        Err(OutboundError::BadUrl { .. })
    ));
    assert!(Outbound::trusted()
        .unwrap()
        .check_url("http://127.0.0.1:1/")
        .is_ok());
}

#[tokio::test]
async fn dns_name_resolving_to_private_address_is_refused() {
    // `localhost` resolves (from /etc/hosts) to loopback only.
    let r = GuardedResolver::new(Arc::new(OutboundPolicy::default()));
    match r.lookup("localhost").await {
        Err(OutboundError::Refused { host, kind, .. }) => {
            assert_eq!(host, "localhost");
            assert_eq!(kind, Special::Loopback);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let r = GuardedResolver::new(Arc::new(OutboundPolicy::with_loopback()));
    let addrs = r.lookup("localhost").await.unwrap();
    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
}

#[tokio::test]
async fn dns_name_resolving_to_loopback_is_refused_on_the_wire() {
    use std::sync::atomic::Ordering;
    let (addr, hits) = serve(200, None, "secret").await;
    let url = format!("http://localhost:{}/", addr.port());
    let e = Outbound::guarded(OutboundPolicy::default())
        .unwrap()
        .get(&url, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(e, OutboundError::Refused { ref host, .. } if host == "localhost"),
        "{e}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let ok = Outbound::guarded(OutboundPolicy::with_loopback())
        .unwrap()
        .get(&url, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), "secret");
}

#[tokio::test]
async fn redirects_are_errors_not_followed() {
    use std::sync::atomic::Ordering;
    let (target, target_hits) = serve(200, None, "secret").await;
    let (addr, _) = serve(302, Some(format!("http://{target}/secret")), "").await;
    let url = format!("http://{addr}/x");
    for out in [
        Outbound::guarded(OutboundPolicy::with_loopback()).unwrap(),
        Outbound::trusted().unwrap(),
    ] {
        let e = out.get(&url, Duration::from_secs(5)).await.unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, OutboundError::Redirect { status: 302, .. }),
            "{text}"
        );
        assert!(text.contains(&url) && text.contains("/secret"), "{text}");
    }
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);
}
