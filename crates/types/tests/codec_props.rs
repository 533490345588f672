//! Property tests of the canonical codec and of the checks built on it: signed
//! transactions, block headers, blocks and commit certificates round-trip; corrupted,
//! truncated, oversized or padded bytes are refused without panicking; blocks whose
//! body disagrees with the header and certificates that do not prove finality are
//! refused with the right error.

use waybill_types::payload::{
    CaptureEpcis, GrantRead, RecordQualification, RegisterLocation, RegisterLot, RegisterMember,
    RegisterProduct, RevokeMember, SetMemberRoles,
};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{subsequence, Index};
use waybill_gs1::{with_check_digit, Gln, Gtin};
use waybill_types::block::{tx_root, BlockError, CertificateError, ValidatorInfo, HEADER_VERSION};
use waybill_types::codec::{self, CodecError};
use waybill_types::keys::domain;
use waybill_types::limits::{
    BLOCK_BYTES_MAX, BLOCK_TXS_MAX, CERTIFICATE_BYTES_MAX, NAME_BYTES_MAX, TEXT_BYTES_MAX,
    TX_BYTES_MAX, VALIDATORS_MAX,
};
use waybill_types::tx::{TxError, TX_VERSION};
use waybill_types::{
    sha256, Block, BlockHeader, CommitCertificate, CommitSignature, Hash, Height, Payload,
    PublicKey, Role, SecretKey, Signature, SignedTx, Transaction,
};

// ---------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

fn signature() -> impl Strategy<Value = Signature> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&a);
        s[32..].copy_from_slice(&b);
        Signature(s)
    })
}

/// A required display text of at most `max` bytes: mixed scripts, and the exact limit.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z\u{4e00}-\u{4e2f}][a-zA-Z0-9 ,.'()\u{00e9}\u{4e00}-\u{4e2f}]{0,50}",
        1 => Just("n".repeat(max)),
        1 => Just("\u{4e2d}".repeat(max / 3)),
    ]
}

fn roles() -> impl Strategy<Value = Vec<Role>> {
    subsequence(Role::ALL.to_vec(), 1..=Role::ALL.len()).prop_shuffle()
}

/// GTINs written with 8, 12, 13 or 14 digits (normalized to 14 on parsing).
fn gtin() -> impl Strategy<Value = Gtin> {
    prop_oneof!["[0-9]{7}", "[0-9]{11}", "[0-9]{12}", "[0-9]{13}"].prop_map(|data| {
        with_check_digit(&data)
            .expect("digits")
            .parse()
            .expect("valid GTIN")
    })
}

fn gln() -> impl Strategy<Value = Gln> {
    "[0-9]{12}".prop_map(|data| {
        with_check_digit(&data)
            .expect("digits")
            .parse()
            .expect("valid GLN")
    })
}

fn date() -> impl Strategy<Value = String> {
    (0u32..10_000, 1u32..=12, 1u32..=31).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

/// Payloads that pass [`Payload::check`].
fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (public_key(), text(NAME_BYTES_MAX), roles()).prop_map(|(member, name, roles)| {
            Payload::RegisterMember(RegisterMember {
                member,
                name,
                roles,
            })
        }),
        (public_key(), roles())
            .prop_map(|(member, roles)| Payload::SetMemberRoles(SetMemberRoles { member, roles })),
        (
            public_key(),
            prop_oneof![
                4 => "[a-z][a-z ]{0,300}",
                1 => Just("r".repeat(TEXT_BYTES_MAX))
            ]
        )
            .prop_map(|(member, reason)| Payload::RevokeMember(RevokeMember { member, reason })),
        (
            gtin(),
            text(NAME_BYTES_MAX),
            text(NAME_BYTES_MAX),
            text(NAME_BYTES_MAX),
            "[A-Z]{2}"
        )
            .prop_map(|(gtin, name, brand, category, origin_country)| {
                Payload::RegisterProduct(RegisterProduct {
                    gtin,
                    name,
                    brand,
                    category,
                    origin_country,
                })
            }),
        (
            gtin(),
            "[A-Za-z0-9!\"%&'()*+,./:;<=>?_-]{1,20}",
            proptest::option::of(gln()),
            date(),
            1u64..=u64::MAX,
            text(NAME_BYTES_MAX),
            vec(
                (
                    "[a-z]{1,12}",
                    text(60),
                    "[0-9a-z /]{0,12}",
                    proptest::option::of(date())
                ),
                0..4
            ),
            vec((gtin(), "[A-Z0-9]{1,20}"), 0..3),
            vec("[a-z_]{1,20}", 0..3),
        )
            .prop_map(
                |(gtin, lot, origin_gln, produced_on, quantity, unit, inputs, raw, claims)| {
                    Payload::RegisterLot(RegisterLot {
                        gtin,
                        lot,
                        origin_gln,
                        produced_on,
                        quantity,
                        unit,
                        inputs: inputs
                            .into_iter()
                            .map(|(kind, name, amount, applied_on)| waybill_types::LotInput {
                                kind,
                                name,
                                amount,
                                applied_on,
                            })
                            .collect(),
                        raw_materials: raw
                            .into_iter()
                            .map(|(gtin, lot)| waybill_types::LotRef { gtin, lot })
                            .collect(),
                        claims,
                    })
                }
            ),
        (
            gln(),
            text(NAME_BYTES_MAX),
            "[a-z]{1,10}",
            text(300),
            "[A-Z]{2}",
            proptest::option::of("-?[0-8][0-9]\\.[0-9]{1,7}")
        )
            .prop_map(|(gln, name, kind, address, country, latitude)| {
                Payload::RegisterLocation(RegisterLocation {
                    gln,
                    name,
                    kind,
                    address,
                    country,
                    latitude,
                    longitude: Some("103.5".into()),
                })
            }),
        (
            "[a-z][a-z0-9-]{1,20}",
            "[a-z_]{1,20}",
            text(60),
            "[A-Z0-9-]{1,20}",
            text(200),
            date()
        )
            .prop_map(|(org, kind, issuer, number, scope, from)| {
                Payload::RecordQualification(RecordQualification {
                    org: waybill_types::OrgId::new(&org).expect("valid org id"),
                    kind,
                    issuer,
                    number,
                    scope,
                    valid_from: from.clone(),
                    valid_to: from,
                })
            }),
        ("[a-z][a-z0-9-]{1,20}", 0usize..5, any::<bool>()).prop_map(|(org, c, allowed)| {
            Payload::GrantRead(GrantRead {
                org: waybill_types::OrgId::new(&org).expect("valid org id"),
                category: waybill_types::DataCategory::ALL[c],
                allowed,
            })
        }),
        "\\PC{0,400}".prop_map(|document| Payload::CaptureEpcis(CaptureEpcis { document })),
    ]
}

/// A correctly signed transaction that passes the stateless checks for its chain.
fn signed_tx() -> impl Strategy<Value = SignedTx> {
    (
        any::<[u8; 32]>(),
        "[a-z0-9-]{1,64}",
        any::<u64>(),
        1u64..=u64::MAX,
        payload(),
    )
        .prop_map(|(seed, chain_id, nonce, expires_at_ms, payload)| {
            let key = SecretKey::from_seed(seed);
            Transaction {
                version: TX_VERSION,
                chain_id,
                signer: key.public(),
                nonce,
                expires_at_ms,
                payload,
            }
            .sign(&key)
        })
}

fn header() -> impl Strategy<Value = BlockHeader> {
    (
        (
            any::<u8>(),
            "\\PC{0,64}",
            any::<u64>(),
            hash(),
            any::<u64>(),
        ),
        (
            public_key(),
            any::<u32>(),
            hash(),
            hash(),
            hash(),
            hash(),
            hash(),
            hash(),
        ),
    )
        .prop_map(
            |(
                (version, chain_id, height, prev_hash, time_ms),
                (
                    proposer,
                    n_txs,
                    tx_root,
                    open_root,
                    heads_root,
                    commit_root,
                    state_hash,
                    validators_hash,
                ),
            )| BlockHeader {
                version,
                chain_id,
                height: Height(height),
                prev_hash,
                time_ms,
                proposer,
                n_txs,
                tx_root,
                open_root,
                heads_root,
                commit_root,
                state_hash,
                validators_hash,
            },
        )
}

fn certificate() -> impl Strategy<Value = CommitCertificate> {
    (
        any::<u64>(),
        any::<u32>(),
        hash(),
        vec(
            (public_key(), signature()).prop_map(|(validator, signature)| CommitSignature {
                validator,
                signature,
            }),
            0..=VALIDATORS_MAX,
        ),
    )
        .prop_map(
            |(height, round, block_hash, signatures)| CommitCertificate {
                height: Height(height),
                round,
                block_hash,
                signatures,
            },
        )
}

/// A block whose header agrees with its body.
fn block_of(txs: Vec<SignedTx>, height: u64) -> Block {
    let encoded: Vec<Vec<u8>> = txs.iter().map(SignedTx::encode).collect();
    Block {
        header: BlockHeader {
            version: HEADER_VERSION,
            chain_id: "codec-test".into(),
            height: Height(height),
            prev_hash: Hash([1; 32]),
            time_ms: 1_767_225_600_000 + height,
            proposer: SecretKey::from_label("proposer").public(),
            n_txs: u32::try_from(txs.len()).expect("fits"),
            tx_root: tx_root(encoded.iter().map(Vec::as_slice)),
            open_root: Hash([2; 32]),
            heads_root: Hash([5; 32]),
            commit_root: Hash([6; 32]),
            state_hash: Hash([3; 32]),
            validators_hash: Hash([4; 32]),
        },
        txs,
    }
}

fn block() -> impl Strategy<Value = Block> {
    (vec(signed_tx(), 0..6), 1u64..1_000_000).prop_map(|(txs, h)| block_of(txs, h))
}

fn sample_tx(nonce: u64) -> SignedTx {
    let key = SecretKey::from_label("member");
    Transaction {
        version: TX_VERSION,
        chain_id: "codec-test".into(),
        signer: key.public(),
        nonce,
        expires_at_ms: 1_800_000_000_000,
        payload: Payload::RegisterLot(RegisterLot {
            gtin: "06901234000016".parse().expect("valid"),
            lot: "PJ2611C".into(),
            origin_gln: Some("6901234000016".parse().expect("valid")),
            produced_on: "2026-11-20".into(),
            quantity: 800,
            unit: "kg".into(),
            inputs: vec![],
            raw_materials: vec![],
            claims: vec![],
        }),
    }
    .sign(&key)
}

/// Decoded and signature-verified, as a node accepts a transaction.
fn accepted(bytes: &[u8]) -> Option<SignedTx> {
    SignedTx::decode(bytes)
        .ok()
        .filter(|s| s.verify_signature().is_ok())
}

// ---------------------------------------------------------------------------
// Signed transactions.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn signed_tx_round_trips(stx in signed_tx()) {
        prop_assert_eq!(stx.check_stateless(&stx.tx.chain_id), Ok(()));
        let bytes = stx.encode();
        prop_assert!(bytes.len() <= TX_BYTES_MAX);
        let back = SignedTx::decode(&bytes).expect("decodes");
        prop_assert_eq!(&back, &stx);
        prop_assert_eq!(back.encode(), bytes.clone(), "re-encoding is byte-identical");
        prop_assert_eq!(back.id(), stx.id());
        prop_assert_eq!(stx.id(), SignedTx::id_of(&bytes));
        prop_assert_eq!(stx.id(), sha256(&bytes));
        prop_assert_eq!(back.verify_signature(), Ok(()));
        // The signature covers domain::TX ‖ encode(tx) and nothing else.
        let msg = codec::encode(&stx.tx);
        prop_assert_eq!(stx.signed_message(), [domain::TX, msg.as_slice()].concat());
        prop_assert!(stx.tx.signer.verify(domain::VOTE, &msg, &stx.signature).is_err());
        // JSON (the API edge) round-trips too.
        let json = serde_json::to_string(&stx).expect("serializes");
        let from_json: SignedTx = serde_json::from_str(&json).expect("parses");
        prop_assert_eq!(from_json, stx);
    }

    #[test]
    fn signed_by_someone_else_does_not_verify(stx in signed_tx(), seed in any::<[u8; 32]>()) {
        let other = SecretKey::from_seed(seed);
        prop_assume!(other.public() != stx.tx.signer);
        let forged = stx.tx.clone().sign(&other);
        prop_assert!(forged.verify_signature().is_err());
        let back = SignedTx::decode(&forged.encode()).expect("decodes");
        prop_assert!(back.verify_signature().is_err());
    }

    #[test]
    fn flipped_bit_is_caught(
        stx in signed_tx(),
        flips in vec((any::<Index>(), 0u8..8), 16),
    ) {
        let bytes = stx.encode();
        for (pos, bit) in flips {
            let i = pos.index(bytes.len());
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            match SignedTx::decode(&b) {
                Err(_) => {}
                Ok(decoded) => {
                    prop_assert!(
                        decoded.verify_signature().is_err(),
                        "flip of bit {} at byte {} of {} went unnoticed", bit, i, bytes.len()
                    );
                    // Whatever decodes is canonical: it re-encodes to the same bytes.
                    prop_assert_eq!(decoded.encode(), b.clone());
                    prop_assert_ne!(decoded.id(), stx.id());
                }
            }
        }
    }

    #[test]
    fn truncated_signed_tx_is_an_error(stx in signed_tx()) {
        let bytes = stx.encode();
        for n in 0..bytes.len() {
            prop_assert!(
                matches!(SignedTx::decode(&bytes[..n]), Err(TxError::Codec(CodecError::Malformed { .. }))),
                "prefix of {} of {} bytes", n, bytes.len()
            );
        }
    }

    #[test]
    fn trailing_bytes_are_an_error(stx in signed_tx(), extra in vec(any::<u8>(), 1..4)) {
        let mut bytes = stx.encode();
        bytes.extend_from_slice(&extra);
        let got = SignedTx::decode(&bytes);
        prop_assert!(
            matches!(got, Err(TxError::Codec(CodecError::Malformed { .. }))),
            "{:?}",
            got
        );
    }

    #[test]
    fn garbage_never_panics(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(stx) = SignedTx::decode(&bytes) {
            prop_assert_eq!(stx.encode(), bytes.clone());
        }
        if let Ok(h) = codec::decode::<BlockHeader>(&bytes, BLOCK_BYTES_MAX, "header") {
            prop_assert_eq!(codec::encode(&h), bytes.clone());
        }
        if let Ok(c) = codec::decode::<CommitCertificate>(&bytes, CERTIFICATE_BYTES_MAX, "certificate") {
            prop_assert_eq!(codec::encode(&c), bytes.clone());
        }
        if let Ok(b) = Block::decode(&bytes) {
            prop_assert_eq!(b.encode(), bytes);
        }
    }
}

#[test]
fn every_single_bit_flip_of_a_lot_registration_is_caught() {
    let stx = sample_tx(7);
    let bytes = stx.encode();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert!(
                accepted(&b).is_none(),
                "flip of bit {bit} at byte {i} went unnoticed"
            );
        }
    }
}

#[test]
fn unsupported_tx_version_is_refused() {
    let key = SecretKey::from_label("member");
    let mut tx = sample_tx(1).tx;
    tx.version = TX_VERSION + 1;
    let stx = tx.sign(&key);
    assert_eq!(
        SignedTx::decode(&stx.encode()),
        Err(TxError::Version {
            found: TX_VERSION + 1
        })
    );
}

// ---------------------------------------------------------------------------
// Size limits.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn codec_decode_limit(max in 0usize..512, len in 0usize..600, fill in any::<u8>()) {
        let bytes = vec![fill; len];
        let got = codec::decode::<Vec<u8>>(&bytes, max, "thing");
        if len > max {
            prop_assert_eq!(got, Err(CodecError::TooLarge { what: "thing", bytes: len, max }));
        } else {
            prop_assert!(!matches!(got, Err(CodecError::TooLarge { .. })), "{:?}", got);
        }
    }
}

#[test]
fn codec_decode_limit_boundary_with_a_valid_value() {
    let value: Vec<u8> = vec![9; 96];
    let bytes = codec::encode(&value);
    assert_eq!(bytes.len(), 100);
    assert_eq!(codec::decode::<Vec<u8>>(&bytes, 100, "v"), Ok(value));
    assert_eq!(
        codec::decode::<Vec<u8>>(&bytes, 99, "v"),
        Err(CodecError::TooLarge {
            what: "v",
            bytes: 100,
            max: 99
        })
    );
}

/// A signed transaction whose encoding is exactly `len` bytes (padded through the
/// chain id, which decoding does not bound on its own).
fn tx_of_len(len: usize) -> SignedTx {
    let key = SecretKey::from_label("big");
    let make = |chain_id: String| {
        Transaction {
            version: TX_VERSION,
            chain_id,
            signer: key.public(),
            nonce: 1,
            expires_at_ms: 1_800_000_000_000,
            payload: Payload::RevokeMember(RevokeMember {
                member: key.public(),
                reason: "r".into(),
            }),
        }
        .sign(&key)
    };
    let base = make(String::new()).encode().len();
    let stx = make("c".repeat(len - base));
    assert_eq!(stx.encode().len(), len);
    stx
}

#[test]
fn signed_tx_size_limit_is_inclusive() {
    let at = tx_of_len(TX_BYTES_MAX);
    let decoded = SignedTx::decode(&at.encode()).expect("exactly at the limit decodes");
    assert_eq!(decoded, at);
    assert!(decoded.verify_signature().is_ok());

    let over = tx_of_len(TX_BYTES_MAX + 1);
    assert_eq!(
        SignedTx::decode(&over.encode()),
        Err(TxError::Codec(CodecError::TooLarge {
            what: "transaction",
            bytes: TX_BYTES_MAX + 1,
            max: TX_BYTES_MAX
        }))
    );

    // Garbage at the limit is malformed, not too large.
    assert!(matches!(
        SignedTx::decode(&vec![0u8; TX_BYTES_MAX]),
        Err(TxError::Codec(CodecError::Malformed { .. }))
    ));
    assert!(matches!(
        SignedTx::decode(&vec![0u8; TX_BYTES_MAX + 1]),
        Err(TxError::Codec(CodecError::TooLarge { .. }))
    ));
}

#[test]
fn block_size_limit() {
    assert!(matches!(
        Block::decode(&vec![0u8; BLOCK_BYTES_MAX]),
        Err(BlockError::Codec(CodecError::Malformed { .. }))
    ));
    assert_eq!(
        Block::decode(&vec![0u8; BLOCK_BYTES_MAX + 1]),
        Err(BlockError::Codec(CodecError::TooLarge {
            what: "block",
            bytes: BLOCK_BYTES_MAX + 1,
            max: BLOCK_BYTES_MAX
        }))
    );
}

// ---------------------------------------------------------------------------
// Headers, certificates, blocks.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn header_round_trips(h in header(), other in header()) {
        let bytes = codec::encode(&h);
        let back: BlockHeader = codec::decode(&bytes, BLOCK_BYTES_MAX, "header").expect("decodes");
        prop_assert_eq!(&back, &h);
        prop_assert_eq!(h.hash(), sha256(&bytes));
        prop_assert_eq!(back.hash(), h.hash());
        if other != h {
            prop_assert_ne!(other.hash(), h.hash());
        }
        let mut padded = bytes.clone();
        padded.push(0);
        prop_assert!(codec::decode::<BlockHeader>(&padded, BLOCK_BYTES_MAX, "header").is_err());
        for n in [0, bytes.len() / 2, bytes.len() - 1] {
            prop_assert!(codec::decode::<BlockHeader>(&bytes[..n], BLOCK_BYTES_MAX, "header").is_err());
        }
    }

    #[test]
    fn certificate_round_trips(c in certificate(), cut in any::<Index>()) {
        let bytes = codec::encode(&c);
        prop_assert!(bytes.len() <= CERTIFICATE_BYTES_MAX, "{} signatures: {} bytes", c.signatures.len(), bytes.len());
        let back: CommitCertificate =
            codec::decode(&bytes, CERTIFICATE_BYTES_MAX, "certificate").expect("decodes");
        prop_assert_eq!(&back, &c);
        let mut padded = bytes.clone();
        padded.push(0);
        prop_assert!(codec::decode::<CommitCertificate>(&padded, CERTIFICATE_BYTES_MAX, "certificate").is_err());
        let n = cut.index(bytes.len());
        prop_assert!(codec::decode::<CommitCertificate>(&bytes[..n], CERTIFICATE_BYTES_MAX, "certificate").is_err());
    }

    #[test]
    fn block_round_trips(b in block(), cut in any::<Index>()) {
        prop_assert_eq!(b.check_body(), Ok(()));
        let bytes = b.encode();
        let back = Block::decode(&bytes).expect("decodes");
        prop_assert_eq!(&back, &b);
        prop_assert_eq!(back.hash(), b.header.hash());
        prop_assert_eq!(back.tx_ids(), b.txs.iter().map(SignedTx::id).collect::<Vec<_>>());
        let mut padded = bytes.clone();
        padded.push(0);
        prop_assert!(Block::decode(&padded).is_err());
        let n = cut.index(bytes.len());
        prop_assert!(Block::decode(&bytes[..n]).is_err());
    }

    #[test]
    fn block_body_must_match_header(
        b in block(),
        declared in any::<u32>(),
        root in hash(),
    ) {
        let actual = b.txs.len();
        let height = b.header.height;

        let mut wrong_count = b.clone();
        wrong_count.header.n_txs = declared;
        let expected = || if declared as usize == actual {
            Ok(())
        } else {
            Err(BlockError::TxCount { height, declared, actual })
        };
        prop_assert_eq!(wrong_count.check_body(), expected());
        prop_assert_eq!(Block::decode(&wrong_count.encode()).map(|_| ()), expected());

        let mut wrong_root = b.clone();
        wrong_root.header.tx_root = root;
        let expected = || if root == b.header.tx_root {
            Ok(())
        } else {
            Err(BlockError::TxRoot { height, declared: root, computed: b.header.tx_root })
        };
        prop_assert_eq!(wrong_root.check_body(), expected());
        prop_assert_eq!(Block::decode(&wrong_root.encode()).map(|_| ()), expected());

        // The root commits to order.
        if actual >= 2 && b.txs[0] != b.txs[1] {
            let mut swapped = b.clone();
            swapped.txs.swap(0, 1);
            let got = swapped.check_body();
            prop_assert!(matches!(got, Err(BlockError::TxRoot { .. })), "{:?}", got);
        }
        // Dropping a transaction and fixing the count still breaks the root.
        if actual >= 1 {
            let mut dropped = b.clone();
            dropped.txs.pop();
            dropped.header.n_txs -= 1;
            let got = dropped.check_body();
            prop_assert!(matches!(got, Err(BlockError::TxRoot { .. })), "{:?}", got);
        }
    }
}

#[test]
fn block_header_version_is_checked_first() {
    let mut b = block_of(vec![sample_tx(1), sample_tx(2)], 5);
    b.header.version = HEADER_VERSION + 1;
    b.header.n_txs = 9;
    assert_eq!(
        b.check_body(),
        Err(BlockError::Version {
            found: HEADER_VERSION + 1
        })
    );
    assert_eq!(
        Block::decode(&b.encode()),
        Err(BlockError::Version {
            found: HEADER_VERSION + 1
        })
    );
}

#[test]
fn block_transaction_count_limit() {
    // Transactions need not be signed for this check: use an unsigned one.
    let mut unsigned = sample_tx(1);
    unsigned.signature = Signature([0; 64]);

    let at = block_of(vec![unsigned.clone(); BLOCK_TXS_MAX], 3);
    assert_eq!(at.check_body(), Ok(()));

    let mut over = block_of(vec![unsigned; BLOCK_TXS_MAX + 1], 3);
    let too_many = || {
        Err(BlockError::TooManyTxs {
            height: Height(3),
            n_txs: BLOCK_TXS_MAX + 1,
            max: BLOCK_TXS_MAX,
        })
    };
    // Header consistent with the body: still too many.
    assert_eq!(over.check_body(), too_many());
    let bytes = over.encode();
    assert!(bytes.len() <= BLOCK_BYTES_MAX);
    assert_eq!(Block::decode(&bytes).map(|_| ()), too_many());
    // The limit is checked before the count and the root.
    over.header.n_txs = 0;
    over.header.tx_root = Hash::ZERO;
    assert_eq!(over.check_body(), too_many());
}

// ---------------------------------------------------------------------------
// Commit certificates.
// ---------------------------------------------------------------------------

const CHAIN: &str = "cert-test";

fn validator_keys(n: usize) -> Vec<SecretKey> {
    (0..n)
        .map(|i| SecretKey::from_label(&format!("validator-{i}")))
        .collect()
}

fn validator_set(keys: &[SecretKey], powers: &[u64]) -> Vec<ValidatorInfo> {
    let mut v: Vec<ValidatorInfo> = keys
        .iter()
        .zip(powers)
        .map(|(k, p)| ValidatorInfo {
            public_key: k.public(),
            voting_power: *p,
        })
        .collect();
    v.sort_by_key(|v| v.public_key);
    v
}

fn cert(height: u64, round: u32, block: Hash, signers: &[&SecretKey]) -> CommitCertificate {
    CommitCertificate {
        height: Height(height),
        round,
        block_hash: block,
        signatures: signers
            .iter()
            .map(|k| CommitSignature::sign(k, CHAIN, Height(height), round, block))
            .collect(),
    }
}

#[test]
fn single_validator_certificate() {
    let keys = validator_keys(1);
    let set = validator_set(&keys, &[10]);
    let block = sha256(b"block 7");
    let c = cert(7, 2, block, &[&keys[0]]);
    assert_eq!(c.verify(CHAIN, Height(7), block, &set), Ok(()));

    // It survives the codec.
    let back: CommitCertificate =
        codec::decode(&codec::encode(&c), CERTIFICATE_BYTES_MAX, "certificate").expect("decodes");
    assert_eq!(back.verify(CHAIN, Height(7), block, &set), Ok(()));

    // Wrong block, wrong height.
    let other = sha256(b"block 7'");
    assert_eq!(
        c.verify(CHAIN, Height(7), other, &set),
        Err(CertificateError::WrongBlock {
            cert_height: Height(7),
            cert_block: block,
            height: Height(7),
            block: other
        })
    );
    assert!(matches!(
        c.verify(CHAIN, Height(8), block, &set),
        Err(CertificateError::WrongBlock { .. })
    ));

    let bad_sig = || {
        Err(CertificateError::BadSignature {
            height: Height(7),
            validator: keys[0].public(),
        })
    };
    // Forged signature bytes.
    let mut forged = c.clone();
    forged.signatures[0].signature.0[10] ^= 0x40;
    assert_eq!(forged.verify(CHAIN, Height(7), block, &set), bad_sig());
    // Signed by another key in the validator's name.
    let mut impostor = c.clone();
    impostor.signatures[0].signature = CommitSignature::sign(
        &SecretKey::from_label("mallory"),
        CHAIN,
        Height(7),
        2,
        block,
    )
    .signature;
    assert_eq!(impostor.verify(CHAIN, Height(7), block, &set), bad_sig());
    // A signature for another round, chain or block does not carry over.
    let mut other_round = c.clone();
    other_round.round = 3;
    assert_eq!(other_round.verify(CHAIN, Height(7), block, &set), bad_sig());
    assert_eq!(c.verify("other-chain", Height(7), block, &set), bad_sig());
    let mut moved = c.clone();
    moved.block_hash = other;
    assert_eq!(moved.verify(CHAIN, Height(7), other, &set), bad_sig());

    // No signatures at all.
    let empty = cert(7, 2, block, &[]);
    assert_eq!(
        empty.verify(CHAIN, Height(7), block, &set),
        Err(CertificateError::Insufficient {
            height: Height(7),
            signed: 0,
            total: 10
        })
    );
}

#[test]
fn unknown_and_duplicate_signers() {
    let keys = validator_keys(4);
    let set = validator_set(&keys, &[1, 1, 1, 1]);
    let block = sha256(b"block 9");
    let outsider = SecretKey::from_label("outsider");

    let c = cert(9, 0, block, &[&keys[0], &outsider, &keys[1], &keys[2]]);
    assert_eq!(
        c.verify(CHAIN, Height(9), block, &set),
        Err(CertificateError::UnknownValidator {
            height: Height(9),
            validator: outsider.public()
        })
    );

    let c = cert(9, 0, block, &[&keys[0], &keys[1], &keys[0]]);
    assert_eq!(
        c.verify(CHAIN, Height(9), block, &set),
        Err(CertificateError::Duplicate {
            height: Height(9),
            validator: keys[0].public()
        })
    );
    // Duplicates cannot make up for missing power either.
    let c = cert(9, 0, block, &[&keys[0], &keys[0], &keys[0]]);
    assert!(matches!(
        c.verify(CHAIN, Height(9), block, &set),
        Err(CertificateError::Duplicate { .. })
    ));
}

#[test]
fn more_than_two_thirds_of_equal_power() {
    let keys = validator_keys(4);
    let set = validator_set(&keys, &[1, 1, 1, 1]);
    let block = sha256(b"block 11");
    let two = cert(11, 1, block, &[&keys[3], &keys[1]]);
    assert_eq!(
        two.verify(CHAIN, Height(11), block, &set),
        Err(CertificateError::Insufficient {
            height: Height(11),
            signed: 2,
            total: 4
        })
    );
    let three = cert(11, 1, block, &[&keys[3], &keys[1], &keys[0]]);
    assert_eq!(three.verify(CHAIN, Height(11), block, &set), Ok(()));
    let four = cert(11, 1, block, &[&keys[0], &keys[1], &keys[2], &keys[3]]);
    assert_eq!(four.verify(CHAIN, Height(11), block, &set), Ok(()));

    // Exactly two thirds is not enough: 2 of 3.
    let set3 = validator_set(&keys[..3], &[1, 1, 1]);
    let c = cert(11, 1, block, &[&keys[0], &keys[1]]);
    assert!(matches!(
        c.verify(CHAIN, Height(11), block, &set3),
        Err(CertificateError::Insufficient {
            signed: 2,
            total: 3,
            ..
        })
    ));
}

proptest! {
    #![proptest_config(config(64))]

    /// A certificate passes exactly when more than two thirds of the power signed.
    #[test]
    fn certificate_threshold(
        powers in vec(1u64..1_000, 1..=7),
        mask in any::<u8>(),
        round in any::<u32>(),
        height in 1u64..1_000_000,
    ) {
        let keys = validator_keys(powers.len());
        let set = validator_set(&keys, &powers);
        let block = sha256(&height.to_le_bytes());
        let signers: Vec<&SecretKey> =
            keys.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, k)| k).collect();
        let signed: u64 = keys
            .iter()
            .zip(&powers)
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, (_, p))| *p)
            .sum();
        let total: u64 = powers.iter().sum();
        let c = cert(height, round, block, &signers);
        let got = c.verify(CHAIN, Height(height), block, &set);
        if 3 * signed > 2 * total {
            prop_assert_eq!(got, Ok(()));
        } else {
            prop_assert_eq!(
                got,
                Err(CertificateError::Insufficient { height: Height(height), signed, total })
            );
        }
    }
}

#[test]
fn certificate_verify_does_not_panic_on_overflowing_power() {
    let keys = validator_keys(2);
    let set = validator_set(&keys, &[u64::MAX, u64::MAX]);
    let block = sha256(b"block 1");
    let c = cert(1, 0, block, &[&keys[0], &keys[1]]);
    let got = std::panic::catch_unwind(|| c.verify(CHAIN, Height(1), block, &set));
    assert!(
        got.is_ok(),
        "verify panicked on a validator set whose power overflows u64"
    );
}

#[test]
fn category_and_unit_follow_the_name_limit() {
    // Regression: limits.rs once documented categories and units as free text
    // (1000 bytes) while tx.rs checks them as names (200 bytes); names win.
    let at = "c".repeat(NAME_BYTES_MAX);
    let past = "c".repeat(NAME_BYTES_MAX + 1);
    let product = |category: &str| {
        Payload::RegisterProduct(RegisterProduct {
            gtin: "06901234000016".parse().expect("valid"),
            name: "n".into(),
            brand: "b".into(),
            category: category.into(),
            origin_country: "CN".into(),
        })
    };
    assert_eq!(
        product(&at).check(),
        Ok(()),
        "category of NAME_BYTES_MAX bytes"
    );
    assert!(
        product(&past).check().is_err(),
        "category one byte past NAME_BYTES_MAX"
    );
    let lot = |unit: &str| {
        Payload::RegisterLot(RegisterLot {
            gtin: "06901234000016".parse().expect("valid"),
            lot: "L1".into(),
            origin_gln: None,
            produced_on: "2026-11-20".into(),
            quantity: 1,
            unit: unit.into(),
            inputs: vec![],
            raw_materials: vec![],
            claims: vec![],
        })
    };
    assert_eq!(lot(&at).check(), Ok(()), "unit of NAME_BYTES_MAX bytes");
    assert!(
        lot(&past).check().is_err(),
        "unit one byte past NAME_BYTES_MAX"
    );
    let _ = TEXT_BYTES_MAX;
}
