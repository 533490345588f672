//! GS1 identifier canonicalisation through the public API of `waybill_epcis::epc`.

use std::fs;

use waybill_epcis::epc::{parse, EpcError, Identifier};

fn canonical(input: &str) -> String {
    match parse(input) {
        Ok(id) => {
            assert!(id.gs1, "{input} should be a GS1 identifier");
            id.canonical
        }
        Err(e) => panic!("{input} should parse: {e}"),
    }
}

fn error(input: &str) -> EpcError {
    match parse(input) {
        Ok(id) => panic!("{input} should be rejected, got {}", id.canonical),
        Err(e) => e,
    }
}

#[test]
fn pure_identity_urns() {
    for (urn, dl) in [
        (
            "urn:epc:id:sgtin:0614141.107346.2017",
            "https://id.gs1.org/01/10614141073464/21/2017",
        ),
        (
            "urn:epc:id:sgtin:4012345.011111.987",
            "https://id.gs1.org/01/04012345111118/21/987",
        ),
        // Twelve-digit company prefix: the item reference is only the indicator digit.
        (
            "urn:epc:id:sgtin:415056789012.0.987654",
            "https://id.gs1.org/01/04150567890128/21/987654",
        ),
        // URN escapes are decoded, then re-encoded for the Digital Link path.
        (
            "urn:epc:id:sgtin:4012345.011111.98%22",
            "https://id.gs1.org/01/04012345111118/21/98%22",
        ),
        (
            "urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()",
            "https://id.gs1.org/01/80614141123458/21/6789%2F%26%25%22%21%3F%28%29",
        ),
        (
            "urn:epc:id:sscc:4012345.0000000333",
            "https://id.gs1.org/00/040123450000003338",
        ),
        (
            "urn:epc:id:sscc:0614141.1234567890",
            "https://id.gs1.org/00/106141412345678908",
        ),
        (
            "urn:epc:id:sgln:4012345.00011.987",
            "https://id.gs1.org/414/4012345000115/254/987",
        ),
        (
            "urn:epc:id:sgln:4012345.00011.0",
            "https://id.gs1.org/414/4012345000115",
        ),
        (
            "urn:epc:id:sgln:952005385.011.scA",
            "https://id.gs1.org/414/9520053850113/254/scA",
        ),
        (
            "urn:epc:id:pgln:4012345.00000",
            "https://id.gs1.org/417/4012345000009",
        ),
        (
            "urn:epc:id:pgln:999999999999.",
            "https://id.gs1.org/417/9999999999994",
        ),
        (
            "urn:epc:id:grai:4012345.00022.334455",
            "https://id.gs1.org/8003/04012345000221334455",
        ),
        (
            "urn:epc:id:giai:4012345.AAbb",
            "https://id.gs1.org/8004/4012345AAbb",
        ),
        (
            "urn:epc:id:giai:4000001.111",
            "https://id.gs1.org/8004/4000001111",
        ),
        (
            "urn:epc:id:gsrn:4012345.0000006765",
            "https://id.gs1.org/8018/401234500000067657",
        ),
        (
            "urn:epc:id:gsrnp:4012345.0000000007",
            "https://id.gs1.org/8017/401234500000000074",
        ),
        (
            "urn:epc:id:gdti:4012345.00009.PO-4711",
            "https://id.gs1.org/253/4012345000092PO-4711",
        ),
        (
            "urn:epc:id:gdti:987659999999..9",
            "https://id.gs1.org/253/98765999999929",
        ),
        (
            "urn:epc:id:cpi:0614141.11111111111111-A%23%2F.1234",
            "https://id.gs1.org/8010/061414111111111111111-A%23%2F/8011/1234",
        ),
        (
            "urn:epc:id:sgcn:4012345.99999.44",
            "https://id.gs1.org/255/401234599999044",
        ),
        (
            "urn:epc:id:ginc:0614141.xyz47%2F11",
            "https://id.gs1.org/401/0614141xyz47%2F11",
        ),
        (
            "urn:epc:id:gsin:4012345.222333444",
            "https://id.gs1.org/402/40123452223334442",
        ),
        (
            "urn:epc:id:itip:4012345.011111.01.02.987",
            "https://id.gs1.org/8006/040123451111180102/21/987",
        ),
        (
            "urn:epc:id:upui:1234567.098765.51qIgY)%3C%26Jp3*j7'SDB",
            "https://id.gs1.org/01/01234567987651/235/51qIgY%29%3C%26Jp3%2Aj7'SDB",
        ),
    ] {
        assert_eq!(canonical(urn), dl, "{urn}");
    }
}

#[test]
fn class_and_pattern_urns() {
    for (urn, dl) in [
        (
            "urn:epc:class:lgtin:4012345.012345.Lot987",
            "https://id.gs1.org/01/04012345123456/10/Lot987",
        ),
        (
            "urn:epc:class:lgtin:4054739.099914.20160711",
            "https://id.gs1.org/01/04054739999148/10/20160711",
        ),
        (
            "urn:epc:idpat:sgtin:4054739.099914.*",
            "https://id.gs1.org/01/04054739999148",
        ),
        (
            "urn:epc:idpat:sgtin:4054739.099914.77",
            "https://id.gs1.org/01/04054739999148/21/77",
        ),
        (
            "urn:epc:idpat:grai:4012345.66666.*",
            "https://id.gs1.org/8003/04012345666663",
        ),
        (
            "urn:epc:idpat:gdti:4012345.55555.*",
            "https://id.gs1.org/253/4012345555554",
        ),
        (
            "urn:epc:idpat:sgcn:4012345.99999.*",
            "https://id.gs1.org/255/4012345999990",
        ),
        (
            "urn:epc:idpat:cpi:4012345.ABC.*",
            "https://id.gs1.org/8010/4012345ABC",
        ),
        (
            "urn:epc:idpat:itip:4012345.012345.01.02.*",
            "https://id.gs1.org/8006/040123451234560102",
        ),
        (
            "urn:epc:idpat:upui:4012345.012345.*",
            "https://id.gs1.org/01/04012345123456",
        ),
        (
            "urn:epc:idpat:sgln:4012345.00011.*",
            "https://id.gs1.org/414/4012345000115",
        ),
    ] {
        assert_eq!(canonical(urn), dl, "{urn}");
    }
}

#[test]
fn digital_link_uris() {
    for (uri, dl) in [
        (
            "https://id.gs1.org/00/040123451111111127",
            "https://id.gs1.org/00/040123451111111127",
        ),
        // Custom domain, path prefix, query string and fragment.
        (
            "https://id.gs1.de/01/04012345999990/21/XYZ-1234",
            "https://id.gs1.org/01/04012345999990/21/XYZ-1234",
        ),
        (
            "https://example.com/gtin/09780345418913/21/765tz?abc=211121",
            "https://id.gs1.org/01/09780345418913/21/765tz",
        ),
        (
            "https://id.gs1.org/gtin/09780345418913",
            "https://id.gs1.org/01/09780345418913",
        ),
        (
            "https://brand.example.com/some/path/01/9520123456788#top",
            "https://id.gs1.org/01/09520123456788",
        ),
        (
            "HTTP://a/sscc/006141411234567890/",
            "https://id.gs1.org/00/006141411234567890",
        ),
        // Only the finest level is kept: serial over lot, and never the CPV.
        (
            "https://id.gs1.org/01/09520123456788/22/2A/10/ABC1/21/12345",
            "https://id.gs1.org/01/09520123456788/21/12345",
        ),
        (
            "https://id.gs1.org/01/09520123456788/lot/ABC1",
            "https://id.gs1.org/01/09520123456788/10/ABC1",
        ),
        (
            "https://id.gs1.org/01/09520123456788/235/XYZ",
            "https://id.gs1.org/01/09520123456788/235/XYZ",
        ),
        (
            "https://id.example.com/8003/040123450007718765",
            "https://id.gs1.org/8003/040123450007718765",
        ),
        (
            "https://id.gs1.de/414/4012345000115",
            "https://id.gs1.org/414/4012345000115",
        ),
        (
            "https://id.gs1.org/414/9520123456788/254/32a%2Fb",
            "https://id.gs1.org/414/9520123456788/254/32a%2Fb",
        ),
        (
            "https://id.gs1.org/414/9520123456788/7040/1ABC",
            "https://id.gs1.org/414/9520123456788",
        ),
        (
            "https://id.example.com/253/4012345000054987",
            "https://id.gs1.org/253/4012345000054987",
        ),
        (
            "https://a/8018/123456789012345675/8019/123",
            "https://id.gs1.org/8018/123456789012345675",
        ),
        (
            "https://a/8010/4012345ABC/8011/123",
            "https://id.gs1.org/8010/4012345ABC/8011/123",
        ),
        (
            "https://a/8006/040123451234560102/10/L1/21/S1",
            "https://id.gs1.org/8006/040123451234560102/21/S1",
        ),
        // Escapes are normalised: decoded, then re-encoded with upper-case hex.
        (
            "https://a/01/09520123456788/21/a%2fb!",
            "https://id.gs1.org/01/09520123456788/21/a%2Fb%21",
        ),
        (
            "https://a/01/12312312312333/22/ABC%2d123",
            "https://id.gs1.org/01/12312312312333",
        ),
    ] {
        assert_eq!(canonical(uri), dl, "{uri}");
    }
}

#[test]
fn urn_and_digital_link_forms_agree() {
    let pairs = [
        (
            "urn:epc:id:sscc:4012345.0000000333",
            "https://id.gs1.org/00/040123450000003338",
        ),
        (
            "urn:epc:id:sgtin:0614141.812345.6789%2F%26",
            "https://x.example/01/80614141123458/21/6789%2f&",
        ),
        (
            "urn:epc:id:sgln:4012345.00011.0",
            "https://id.gs1.org/gln/4012345000115",
        ),
    ];
    for (urn, dl) in pairs {
        assert_eq!(
            parse(urn).expect("urn"),
            parse(dl).expect("dl"),
            "{urn} vs {dl}"
        );
    }
}

#[test]
fn helpers() {
    let sgtin = parse("urn:epc:id:sgtin:0614141.107346.2017").expect("valid");
    assert_eq!(sgtin.gtin(), Some("10614141073464"));
    assert_eq!(sgtin.serial(), Some("2017"));
    assert_eq!(sgtin.lot(), None);
    assert_eq!(
        sgtin.class_level().as_deref(),
        Some("https://id.gs1.org/01/10614141073464")
    );

    let lgtin = parse("urn:epc:class:lgtin:4012345.012345.Lot987").expect("valid");
    assert_eq!(lgtin.lot(), Some("Lot987"));
    assert_eq!(
        lgtin.class_level().as_deref(),
        Some("https://id.gs1.org/01/04012345123456")
    );

    // A lot next to a serial is reported, though the canonical form drops it.
    let both = parse("https://id.gs1.org/01/09520123456788/10/L1/21/S1").expect("valid");
    assert_eq!(both.lot(), Some("L1"));
    assert_eq!(both.serial(), Some("S1"));
    assert_eq!(
        both.elements,
        [("01", "09520123456788"), ("10", "L1"), ("21", "S1")]
            .map(|(a, v)| (a.to_owned(), v.to_owned()))
    );

    let sscc = parse("urn:epc:id:sscc:4012345.0000000333").expect("valid");
    assert_eq!(sscc.sscc(), Some("040123450000003338"));
    assert_eq!(sscc.class_level(), None);
    assert_eq!(sscc.gtin(), None);

    let sgln = parse("urn:epc:id:sgln:4012345.00011.987").expect("valid");
    assert_eq!(sgln.gln(), Some("4012345000115"));
    assert_eq!(sgln.element("254"), Some("987"));
    let pgln = parse("urn:epc:id:pgln:4012345.00000").expect("valid");
    assert_eq!(pgln.gln(), Some("4012345000009"));
}

#[test]
fn non_gs1_identifiers_pass_through() {
    for s in [
        "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        "geo:47.506694,11.104301",
        "http://transaction.acme.com/po/12345678",
        "urn:epcglobal:cbv:bt:0614141073467:1152",
        "https://example.org/rail/someSectorSpecificValue",
        "https://ref.gs1.org/cbv/BizStep-receiving",
        "urn:epc:id:gid:95100000.12345.400",
        "urn:epc:id:usdod:2S194.12345678901",
        "https://example.com/01",
        "https://example.com/01/09520123456788/99/x",
        "mailto:someone@example.com",
        "",
    ] {
        let id = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            id,
            Identifier {
                canonical: s.to_owned(),
                elements: Vec::new(),
                gs1: false
            }
        );
    }
}

#[test]
fn errors_name_the_input_and_the_problem() {
    assert_eq!(
        error("urn:epc:id:sgtin:0614141.10734.2017").to_string(),
        "urn:epc:id:sgtin:0614141.10734.2017: company prefix plus item reference must be 13 digits, found 12"
    );
    assert_eq!(
        error("https://id.gs1.org/01/09520123456789").to_string(),
        "https://id.gs1.org/01/09520123456789: GTIN (AI 01) 09520123456789 has check digit 9, expected 8"
    );
    assert!(matches!(
        error("https://example.com/414/4012345000116"),
        EpcError::CheckDigit {
            key: "GLN (AI 414)",
            expected: 5,
            found: 6,
            ..
        }
    ));
    assert!(matches!(
        error("https://example.com/00/040123451111111128"),
        EpcError::CheckDigit {
            expected: 7,
            found: 8,
            ..
        }
    ));
    assert!(matches!(
        error("https://example.com/00/04012345111111112"),
        EpcError::KeyFormat {
            expected: "18 digits",
            ..
        }
    ));
    assert!(matches!(
        error("https://id.gs1.org/01/09520123456"),
        EpcError::KeyFormat { .. }
    ));
    assert!(matches!(
        error("urn:epc:id:sgtn:0614141.107346.2017"),
        EpcError::UnknownScheme { .. }
    ));
    assert!(matches!(
        error("urn:epc:class:sgtin:0614141.107346.2017"),
        EpcError::UnknownScheme { .. }
    ));
    assert!(matches!(
        error("urn:epc:id:sgtin:0614141.107346"),
        EpcError::PartCount {
            expected: 3,
            found: 2,
            ..
        }
    ));
    assert!(matches!(
        error("urn:epc:id:sgtin:06141.1073460.1"),
        EpcError::CompanyPrefix { .. }
    ));
    assert!(matches!(
        error("urn:epc:id:sgtin:0614141.10734a.1"),
        EpcError::NotDigits { .. }
    ));
    assert!(matches!(
        error("urn:epc:id:sgtin:0614141.107346.123456789012345678901"),
        EpcError::ValueTooLong { max: 20, .. }
    ));
    assert!(matches!(
        error("urn:epc:id:sgtin:0614141.107346."),
        EpcError::Empty { .. }
    ));
    assert!(matches!(
        error("urn:epc:id:sgtin:0614141.107346.a%2"),
        EpcError::BadEscape { .. }
    ));
    assert!(matches!(
        error("urn:epc:id:sgtin:0614141.107346.a%20b"),
        EpcError::BadCharacter { found: ' ', .. }
    ));
    assert!(matches!(
        error("urn:epc:idpat:sgtin:0614141.*.*"),
        EpcError::PatternTooBroad { .. }
    ));
    assert!(matches!(
        error("urn:epc:idpat:sscc:0614141.*"),
        EpcError::PatternTooBroad { .. }
    ));
    assert!(matches!(
        error("urn:epc:id:cpi:0614141.abc.1"),
        EpcError::BadCharacter {
            charset: "CSET 39",
            ..
        }
    ));
    assert!(matches!(
        error("urn:epc:id:itip:4012345.011111.00.02.987"),
        EpcError::KeyFormat { .. }
    ));
    assert!(matches!(
        error("https://a/01/09520123456788/10/A/10/B"),
        EpcError::Qualifier { qualifier, .. } if qualifier == "10"
    ));
    assert!(matches!(
        error("https://a/01/09520123456788/235/A/21/B"),
        EpcError::Qualifier { .. }
    ));
    assert!(matches!(
        error(&format!("urn:epc:id:giai:{}", "1".repeat(3000))),
        EpcError::TooLong { .. }
    ));
    for e in [
        error("urn:epc:id:sscc:4012345.000000033"),
        error("https://x.example/253/4012345000055"),
    ] {
        assert!(
            e.to_string().contains("urn:epc:id:sscc") || e.to_string().contains("x.example"),
            "{e}"
        );
    }
}

/// The GS1 Digital Link parse vectors: every valid URI whose primary key the hash
/// algorithm uses yields its path elements (query attributes are not read here).
#[test]
fn digital_link_parse_vectors() {
    const KEYS: &[&str] = &[
        "00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010",
        "8017", "8018",
    ];
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/digital-link/dl_parse_uri.jsonl"
    );
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let uri = case["uri"].as_str().expect("uri");
        if case["valid"] != true || case["options"].get("permitUnknownAIs").is_some() {
            continue;
        }
        let expected: Vec<(String, String)> = case["expected_elements"]
            .as_array()
            .expect("elements")
            .iter()
            .map(|e| {
                (
                    e[0].as_str().expect("ai").to_owned(),
                    e[1].as_str().expect("value").to_owned(),
                )
            })
            .collect();
        if !KEYS.contains(&expected[0].0.as_str()) {
            continue;
        }
        let id = parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        let query = uri.split_once('?').map_or("", |(_, q)| q);
        let in_path: Vec<(String, String)> = expected
            .into_iter()
            .filter(|(ai, _)| !query.contains(&format!("{ai}=")))
            .collect();
        assert!(id.gs1, "{uri}");
        assert_eq!(id.elements, in_path, "{uri}");
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} vectors checked");
}
