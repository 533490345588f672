//! The HPKE that wraps sealed fields' data keys (`waybill_types::seal`) checked
//! against RFC 9180 Appendix A.1.1 and A.2.1 — DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, base mode, with AES-128-GCM and with ChaCha20Poly1305 (the suite
//! Waybill seals with) — transcribed in `tests/data/rfc9180-x25519.txt`. Both sides:
//! the sender, made deterministic by an RNG that yields the vector's `ikmE` (HPKE's
//! GenerateKeyPair is DeriveKeyPair(random(Nsk)), RFC 9180 section 4), must produce
//! `enc` and every listed ciphertext at its sequence number; the recipient must
//! derive its key pair from `ikmR`, open them in order and export the listed values.

use std::collections::BTreeMap;

use hpke::aead::{AeadTag, AesGcm128, ChaCha20Poly1305};
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256 as Kem;
use hpke::rand_core::{CryptoRng, Error, RngCore};
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};

/// One listed encryption: sequence number, plaintext, associated data, nonce, ciphertext.
type Encryption = (u64, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

#[derive(Default)]
struct Vector {
    fields: BTreeMap<String, Vec<u8>>,
    encryptions: Vec<Encryption>,
    /// (context, L, value)
    exports: Vec<(Vec<u8>, usize, Vec<u8>)>,
}

impl Vector {
    fn get(&self, name: &str) -> &[u8] {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("vector has no {name}"))
    }
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
}

fn vectors() -> BTreeMap<String, Vector> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rfc9180-x25519.txt"
    ))
    .expect("test data");
    let mut out: BTreeMap<String, Vector> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            out.entry(section.clone()).or_default();
            continue;
        }
        let v = out.get_mut(&section).expect("a section first");
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts[0] {
            "encrypt" => v.encryptions.push((
                parts[1].parse().expect("test setup"),
                unhex(parts[2]),
                unhex(parts[3]),
                unhex(parts[4]),
                unhex(parts[5]),
            )),
            "export" => v.exports.push((
                if parts[1] == "-" {
                    Vec::new()
                } else {
                    unhex(parts[1])
                },
                parts[2].parse().expect("test setup"),
                unhex(parts[3]),
            )),
            name => {
                let name = name.trim_end_matches(':').to_owned();
                let value = if name == "aead_id" {
                    vec![parts[1].parse::<u8>().expect("test setup")]
                } else {
                    unhex(parts[1])
                };
                v.fields.insert(name, value);
            }
        }
    }
    out
}

/// An "RNG" that yields fixed bytes: the vector's ephemeral key material.
struct Fixed(Vec<u8>);

impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        unreachable!("HPKE asks for bytes")
    }
    fn next_u64(&mut self) -> u64 {
        unreachable!("HPKE asks for bytes")
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(dest.len() <= self.0.len(), "asked for more than ikmE");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Fixed {}

fn check<A: hpke::aead::Aead>(name: &str, v: &Vector) {
    // Key derivation, both key pairs.
    for who in ["E", "R"] {
        let (sk, pk) = Kem::derive_keypair(v.get(&format!("ikm{who}")));
        assert_eq!(
            sk.to_bytes().as_slice(),
            v.get(&format!("sk{who}m")),
            "{name} sk{who}"
        );
        assert_eq!(
            pk.to_bytes().as_slice(),
            v.get(&format!("pk{who}m")),
            "{name} pk{who}"
        );
    }
    let info = v.get("info");
    let pk_r = <Kem as hpke::Kem>::PublicKey::from_bytes(v.get("pkRm")).expect("test setup");
    let sk_r = <Kem as hpke::Kem>::PrivateKey::from_bytes(v.get("skRm")).expect("test setup");

    // Sender: the encapsulated key and every listed ciphertext at its sequence number.
    let mut rng = Fixed(v.get("ikmE").to_vec());
    let (enc, mut sender) =
        hpke::setup_sender::<A, HkdfSha256, Kem, _>(&OpModeS::Base, &pk_r, info, &mut rng)
            .expect("test setup");
    assert_eq!(enc.to_bytes().as_slice(), v.get("enc"), "{name} enc");
    let last = v.encryptions.iter().map(|e| e.0).max().expect("test setup");
    let mut checked = 0;
    for seq in 0..=last {
        match v.encryptions.iter().find(|e| e.0 == seq) {
            Some((_, pt, aad, _nonce, ct)) => {
                assert_eq!(
                    &sender.seal(pt, aad).expect("test setup"),
                    ct,
                    "{name} seq {seq}"
                );
                checked += 1;
            }
            // Advance the sequence number.
            None => {
                let mut filler = [0u8; 1];
                let _: AeadTag<A> = sender
                    .seal_in_place_detached(&mut filler, b"")
                    .expect("test setup");
            }
        }
    }
    assert_eq!(checked, 6, "{name}: six encryptions listed");

    // Recipient: opens the first three in order (a failed open does not advance it).
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(v.get("enc")).expect("test setup");
    let mut receiver =
        hpke::setup_receiver::<A, HkdfSha256, Kem>(&OpModeR::Base, &sk_r, &enc, info)
            .expect("test setup");
    let (_, pt, aad1, _, ct1) = &v.encryptions[1];
    assert!(
        receiver.open(ct1, aad1).is_err(),
        "{name}: seq 1 before seq 0"
    );
    for (seq, pt_want, aad, _, ct) in &v.encryptions[..3] {
        assert_eq!(
            &receiver.open(ct, aad).expect("test setup"),
            pt_want,
            "{name} open {seq}"
        );
    }
    let _ = pt;
    for (ctx, len, want) in &v.exports {
        let mut out = vec![0u8; *len];
        receiver.export(ctx, &mut out).expect("test setup");
        assert_eq!(&out, want, "{name} export {}", hex::encode(ctx));
    }
}

#[test]
fn hpke_matches_rfc_9180_appendix_a_for_x25519() {
    let all = vectors();
    assert_eq!(all.len(), 2, "A.1.1 and A.2.1");
    let a1 = &all["A.1.1"];
    assert_eq!(a1.get("aead_id"), [1]);
    check::<AesGcm128>("A.1.1", a1);
    let a2 = &all["A.2.1"];
    assert_eq!(a2.get("aead_id"), [3]);
    check::<ChaCha20Poly1305>("A.2.1", a2);
}
