//! Properties of the GS1 Digital Link helpers over generated inputs.

use proptest::prelude::*;
use waybill_gs1::ai;
use waybill_gs1::digital_link::{uri_escape, uri_unescape, DigitalLink, UriComponent};

proptest! {
    #[test]
    fn escaping_round_trips(s in any::<String>()) {
        for component in [UriComponent::Path, UriComponent::Query] {
            let escaped = uri_escape(&s, component);
            prop_assert!(escaped.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%+".contains(&b)));
            prop_assert_eq!(uri_unescape(&escaped, component), s.as_bytes().to_vec());
        }
    }

    #[test]
    fn parsing_arbitrary_text_does_not_panic(s in any::<String>()) {
        let _ = DigitalLink::parse(&s);
        let _ = DigitalLink::parse(&format!("https://example.com/01/09521234543213{s}"));
        let _ = ai::parse_bracketed_with(&s, true);
    }

    /// Any GTIN with any lot and serial (CSET 82) survives generate → parse.
    #[test]
    fn gtin_lot_serial_round_trip(
        digits in "[0-9]{13}",
        lot in "[!-~&&[^#$@\\[\\\\\\]^`{|}~]]{1,20}",
        serial in "[A-Za-z0-9%+/ ]{0,20}",
    ) {
        let gtin = waybill_gs1::with_check_digit(&digits).expect("13 digits");
        let mut elements = vec![("01".to_owned(), gtin.clone()), ("10".to_owned(), lot.clone())];
        let serial = serial.replace(' ', "-");
        if !serial.is_empty() {
            elements.push(("21".to_owned(), serial.clone()));
        }
        let uri = waybill_gs1::digital_link::generate(&elements, Some("https://example.com/x/"))
            .expect("valid data");
        let dl = DigitalLink::parse(&uri).expect("generated URI parses");
        prop_assert_eq!(dl.gtin(), Some(gtin.as_str()));
        prop_assert_eq!(dl.lot(), Some(lot.as_str()));
        prop_assert_eq!(dl.serial(), (!serial.is_empty()).then_some(serial.as_str()));
        prop_assert_eq!(dl.stem.as_str(), "https://example.com/x");
        prop_assert_eq!(dl.to_string(), uri);
    }
}
