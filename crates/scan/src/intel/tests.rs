use super::*;

fn csv(text: &str) -> IntelSet {
    let mut b = IntelSet::builder();
    b.add_csv(text, Path::new("feed.csv"), "feed");
    b.build()
}

#[test]
fn longest_prefix_wins_for_v4_and_v6() {
    let s = csv(
        "ip,10.0.0.0/8,wide\nip,10.1.0.0/16,narrow\nip,10.1.2.3,host\nip,2001:db8::/32,v6net\nip,2001:db8:1::/48,v6narrow\nip,0.0.0.0/0,all-v4\n",
    );
    let id = |ip: &str| s.match_ip(ip.parse().unwrap()).and_then(|i| i.id.clone());
    assert_eq!(id("10.1.2.3").as_deref(), Some("host"));
    assert_eq!(id("10.1.2.4").as_deref(), Some("narrow"));
    assert_eq!(id("10.2.0.1").as_deref(), Some("wide"));
    assert_eq!(id("192.0.2.1").as_deref(), Some("all-v4"));
    assert_eq!(id("2001:db8:1::5").as_deref(), Some("v6narrow"));
    assert_eq!(id("2001:db8:2::5").as_deref(), Some("v6net"));
    assert_eq!(id("2001:db9::1"), None);
    assert_eq!(
        id("::ffff:10.1.2.3").as_deref(),
        Some("host"),
        "v4-mapped v6"
    );
    let hit = s.match_ip("10.1.2.3".parse().unwrap()).unwrap();
    assert_eq!((&*hit.feed, hit.source.as_str()), ("feed", "feed.csv:3"));
}

#[test]
fn host_bits_of_a_network_are_masked() {
    let s = csv("ip,192.0.2.77/24,net\n");
    assert_eq!(
        s.match_ip("192.0.2.1".parse().unwrap()).unwrap().value,
        "192.0.2.0/24"
    );
}

#[test]
fn domains_match_exactly_and_their_subdomains() {
    let s = csv("domain,Evil.Example,e\ndomain,*.bad.test.,b\n");
    assert!(s.match_domain("evil.example").is_some());
    assert!(s.match_domain("WWW.EVIL.EXAMPLE.").is_some());
    assert!(s.match_domain("a.b.evil.example").is_some());
    assert!(s.match_domain("notevil.example").is_none());
    assert!(s.match_domain("example").is_none());
    assert!(s.match_domain("x.bad.test").is_some());
    assert!(s.match_domain("").is_none());
    assert!(s.match_domain(&"a.".repeat(300)).is_none());
}

#[test]
fn urls_match_after_normalisation() {
    let s = csv("url,\"http://Evil.Example:80/a/./b/../c?x=1,2\",u\n");
    assert!(s.match_url("HTTP://evil.example/a/c?x=1,2").is_some());
    assert!(s.match_url("http://evil.example/a/%63?x=1,2").is_some());
    assert!(s.match_url("evil.example/a/c?x=1,2").is_some());
    assert!(s.match_url("http://evil.example/a/c?x=1").is_none());
    assert_eq!(
        normalize_url("https://User@Host.Example.:443").as_deref(),
        Some("https://host.example/")
    );
    assert_eq!(
        normalize_url("http://h/a%2fb%7e").as_deref(),
        Some("http://h/a%2Fb~")
    );
    assert_eq!(
        normalize_url("http://h:8080/x/#frag").as_deref(),
        Some("http://h:8080/x/")
    );
    assert_eq!(normalize_url("http://"), None);
    assert_eq!(normalize_url("http://h x/"), None, "spaces");
    assert_eq!(normalize_url("h::/a"), None, "a colon in the host");
    assert_eq!(
        normalize_url("http://[2001:DB8::1]:8080/").as_deref(),
        Some("http://[2001:db8::1]:8080/")
    );
    assert_eq!(
        normalize_url("http://h:/a").as_deref(),
        Some("http://h/a"),
        "empty port"
    );
    assert_eq!(
        normalize_url("http://h/%e2%82"),
        Some("http://h/%E2%82".into())
    );
    assert_eq!(normalize_url("http://h/é%"), Some("http://h/é%".into()));
}

#[test]
fn hashes_by_kind() {
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    let s = csv(&format!("md5,{md5},eicar\nsha256,{},x\n", "ab".repeat(32)));
    let d: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&md5[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert_eq!(
        s.match_hash(HashKind::Md5, &d).unwrap().id.as_deref(),
        Some("eicar")
    );
    assert!(s.match_hash(HashKind::Sha1, &d).is_none());
    assert!(s.match_hash(HashKind::Sha256, &[0xab; 32]).is_some());
}

#[test]
fn malformed_csv_lines_are_reported_and_skipped() {
    let s = csv(
        "type,value,id,description\nip,10.0.0.1\nip,10.0.0.300\nmd5,abc\nfoo,bar\nip\ndomain,bad..name\nurl,\"http://x/\"junk\nip,10.0.0.0/33\n# note\n\nsha1,0123456789012345678901234567890123456789\n",
    );
    assert_eq!(s.len(), 2);
    let failed: Vec<String> = s.report().failed.iter().map(ToString::to_string).collect();
    assert_eq!(failed.len(), 7, "{failed:#?}");
    assert!(
        failed[0].starts_with("feed.csv:3: \"10.0.0.300\""),
        "{}",
        failed[0]
    );
    assert!(failed[1].starts_with("feed.csv:4:"), "{}", failed[1]);
    assert!(
        failed[2].contains("unknown indicator type"),
        "{}",
        failed[2]
    );
    assert!(failed[3].contains("fields"), "{}", failed[3]);
    assert!(failed[6].contains("33"), "{}", failed[6]);
}

const STIX: &str = r#"{
  "type": "bundle", "id": "bundle--1", "objects": [
    {"type": "identity", "id": "identity--1", "name": "x"},
    {"type": "indicator", "id": "indicator--a", "name": "C2", "pattern_type": "stix",
     "pattern": "[ipv4-addr:value = '198.51.100.0/24'] OR [ipv6-addr:value = '2001:db8::1']"},
    {"type": "indicator", "id": "indicator--b", "pattern_type": "stix",
     "pattern": "[domain-name:value = 'evil.example' OR url:value = 'http://evil.example/it\\'s']"},
    {"type": "indicator", "id": "indicator--c", "pattern_type": "stix",
     "pattern": "[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']"},
    {"type": "indicator", "id": "indicator--d", "pattern_type": "stix",
     "pattern": "[ipv4-addr:value = '1.2.3.4' AND domain-name:value = 'x.example']"},
    {"type": "indicator", "id": "indicator--e", "pattern_type": "stix",
     "pattern": "[process:name = 'evil.exe']"},
    {"type": "indicator", "id": "indicator--f", "pattern_type": "sigma", "pattern": "title: x"},
    {"type": "indicator", "id": "indicator--g", "pattern_type": "stix"},
    {"type": "indicator", "id": "indicator--h", "revoked": true, "pattern": "[ipv4-addr:value = '9.9.9.9']"}
  ]}"#;

#[test]
fn stix_bundles() {
    let mut b = IntelSet::builder();
    b.add_json(STIX, Path::new("ti.json"), "ti");
    let s = b.build();
    assert_eq!(s.len(), 5);
    let hit = s.match_ip("198.51.100.7".parse().unwrap()).unwrap();
    assert_eq!(
        (hit.id.as_deref(), hit.description.as_deref(), &*hit.feed),
        (Some("indicator--a"), Some("C2"), "ti")
    );
    assert!(s.match_ip("2001:db8::1".parse().unwrap()).is_some());
    assert!(s.match_domain("www.evil.example").is_some());
    assert!(s.match_url("http://evil.example/it's").is_some());
    assert!(s.match_hash(HashKind::Sha256, &[0xaa; 32]).is_some());
    assert!(s.match_ip("9.9.9.9".parse().unwrap()).is_none(), "revoked");
    let failed: Vec<String> = s.report().failed.iter().map(ToString::to_string).collect();
    assert_eq!(failed.len(), 3, "{failed:#?}");
    assert!(
        failed[0].starts_with("ti.json#objects[4].pattern: \"AND\""),
        "{}",
        failed[0]
    );
    assert!(failed[1].contains("\"process:name\""), "{}", failed[1]);
    assert!(
        failed[2].starts_with("ti.json#objects[7].pattern"),
        "{}",
        failed[2]
    );
    assert_eq!(s.report().ignored, 2);
}

#[test]
fn misp_events() {
    let misp = r#"{"Event": {"info": "Phish wave", "Attribute": [
        {"type": "ip-dst", "value": "203.0.113.5", "uuid": "u1"},
        {"type": "ip-src|port", "value": "203.0.113.6|443"},
        {"type": "domain|ip", "value": "phish.example|203.0.113.7"},
        {"type": "hostname", "value": "login.phish.example"},
        {"type": "filename|sha1", "value": "a.exe|0123456789012345678901234567890123456789"},
        {"type": "comment", "value": "hello"},
        {"type": "md5", "value": "zz"},
        {"type": "url"}
      ],
      "Object": [{"name": "file", "Attribute": [{"type": "sha256", "value": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}]}]}}"#;
    let mut b = IntelSet::builder();
    b.add_json(misp, Path::new("m.json"), "misp");
    let s = b.build();
    assert_eq!(s.len(), 7);
    let hit = s.match_ip("203.0.113.5".parse().unwrap()).unwrap();
    assert_eq!(
        (hit.id.as_deref(), hit.description.as_deref()),
        (Some("u1"), Some("Phish wave"))
    );
    assert!(s.match_ip("203.0.113.6".parse().unwrap()).is_some());
    assert!(s.match_ip("203.0.113.7".parse().unwrap()).is_some());
    assert!(s.match_domain("phish.example").is_some());
    assert!(s.match_hash(HashKind::Sha256, &[0xbb; 32]).is_some());
    assert_eq!(s.report().ignored, 1);
    let failed: Vec<String> = s.report().failed.iter().map(ToString::to_string).collect();
    assert_eq!(
        failed,
        vec![
            "m.json#Event.Attribute[6]: \"zz\" is not a md5 digest".to_owned(),
            "m.json#Event.Attribute[7]: an attribute needs string \"type\" and \"value\""
                .to_owned(),
        ]
    );
}

#[test]
fn json_that_is_no_feed() {
    let mut b = IntelSet::builder();
    b.add_json("{\"a\": 1}", Path::new("x.json"), "x");
    b.add_json("{\"a\": ", Path::new("y.json"), "y");
    let s = b.build();
    assert_eq!(s.report().failed.len(), 2);
    assert!(
        s.report().failed[1]
            .to_string()
            .starts_with("y.json:1: not JSON")
    );
}

proptest::proptest! {
    /// Normalising twice changes nothing, and a URL indicator is found by its own text.
    #[test]
    fn url_normalisation_is_idempotent(
        scheme in "(http|https|HTTP|ftp)",
        host in "[a-zA-Z0-9.-]{1,20}",
        port in proptest::option::of(0u16..10000),
        path in "(/[a-zA-Z0-9%._~-]{0,6}){0,5}",
        query in proptest::option::of("[a-z0-9=&%]{0,10}"),
    ) {
        let mut url = format!("{scheme}://{host}");
        if let Some(p) = port {
            url += &format!(":{p}");
        }
        url += &path;
        if let Some(q) = &query {
            url += &format!("?{q}");
        }
        if let Some(n) = normalize_url(&url) {
            let again = normalize_url(&n);
            proptest::prop_assert_eq!(again.as_deref(), Some(n.as_str()), "{}", url);
        }
    }

    /// Any CSV text loads without panicking, and everything that loaded is counted.
    #[test]
    fn any_csv_text(text in "[ -~\n]{0,300}") {
        let mut b = IntelSet::builder();
        b.add_csv(&text, Path::new("p.csv"), "p");
        let s = b.build();
        proptest::prop_assert_eq!(s.len(), s.report().loaded);
    }
}
