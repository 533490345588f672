//! `waybill seal-key` and `waybill open`: organizations' encryption keys, and reading
//! sealed fields (docs/PRIVACY.md). Secrets stay in key files; the node only ever sees
//! public keys and ciphertext.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rand_core::OsRng;
use waybill_client::{Client, KeyFile};
use waybill_types::payload::RegisterSealKey;
use waybill_types::seal::{open_all, OrgSecret, Recipient, SealPublicKey, SealSecretKey};
use waybill_types::{OrgId, Payload};

use crate::who::member_key_path;

/// `waybill seal-key rotate`: the organization's next encryption key.
pub async fn rotate(client: &Client, dir: &Path, who: &str) -> anyhow::Result<()> {
    let path = member_key_path(dir, who)?;
    let (org, version, public) = rotate_key(client, &path).await?;
    println!(
        "`{org}` encryption key version {version}: {}\n  secret kept in {}\n  hand it to members who may read: waybill seal-key share --from {} --to MEMBER-KEY.json",
        hex::encode(public.0),
        path.display(),
        path.display()
    );
    Ok(())
}

/// Make and register the next encryption key of the organization whose admin's key
/// file is `path`: the secret is added to that file first, then the public key goes
/// on chain. Returns the organization, the new version and its public key.
pub async fn rotate_key(
    client: &Client,
    path: &Path,
) -> anyhow::Result<(OrgId, u32, SealPublicKey)> {
    let (_, key) = KeyFile::read(path)?;
    let member = client
        .get(&format!("/v1/members/{}", key.public().to_hex()))
        .await
        .with_context(|| format!("{} is not a member the node knows", key.public()))?;
    if member["admin"] != true {
        bail!(
            "{} is not its organization's admin; only the admin registers encryption keys",
            key.public()
        );
    }
    let org = member["org"]
        .as_str()
        .context("the node's member record names no organization")?;
    let org = OrgId::new(org)?;
    let current = current_version(client, &org).await?;
    let version = current
        .checked_add(1)
        .context("the organization has used every key version")?;
    let (secret, public) = SealSecretKey::generate(&mut OsRng);
    // The secret is kept before its public key goes on chain: nothing is ever sealed
    // to a key whose secret was lost.
    KeyFile::add_seal_keys(
        path,
        &[OrgSecret {
            org: org.clone(),
            kv: version,
            secret,
        }],
    )?;
    let chain_id = client.chain_id().await?;
    let stx = waybill_client::sign_with(
        &key,
        &chain_id,
        waybill_types::tx::random_nonce(),
        waybill_client::now_ms().saturating_add(waybill_client::TX_EXPIRY_MS_DEFAULT),
        Payload::RegisterSealKey(RegisterSealKey {
            version,
            key: public,
        }),
    );
    let answer = client.submit(&stx, true).await?;
    if answer["status"] != "applied" {
        bail!(
            "registering version {version} of `{org}`'s encryption key was not applied: {answer}; the unused secret stays in {} (harmless)",
            path.display()
        );
    }
    Ok((org, version, public))
}

/// The organization's current encryption key version on chain (0: none yet).
pub async fn current_version(client: &Client, org: &OrgId) -> anyhow::Result<u32> {
    Ok(current_key(client, org).await?.map_or(0, |r| r.kv))
}

/// The organization's current encryption key on chain, as a recipient to seal or wrap
/// for (`None`: it has registered none).
pub async fn current_key(client: &Client, org: &OrgId) -> anyhow::Result<Option<Recipient>> {
    let keys = client
        .get(&format!("/v1/orgs/{org}/seal-keys"))
        .await
        .with_context(|| format!("reading `{org}`'s encryption keys"))?;
    let Some(current) = keys["keys"].as_array().and_then(|k| k.last()) else {
        return Ok(None);
    };
    Ok(Some(Recipient {
        org: org.clone(),
        kv: u32::try_from(current["version"].as_u64().context("a key version")?)
            .context("the node reports a key version beyond u32")?,
        key: serde_json::from_value(current["key"].clone())
            .with_context(|| format!("`{org}`'s key record"))?,
    }))
}

/// `waybill seal-key share`.
pub fn share(from: &Path, to: &Path) -> anyhow::Result<()> {
    let secrets = KeyFile::read_seal_keys(from)?;
    if secrets.is_empty() {
        bail!(
            "{} holds no encryption secret; an admin makes one with `waybill seal-key rotate`",
            from.display()
        );
    }
    let added = KeyFile::add_seal_keys(to, &secrets)?;
    println!(
        "{added} encryption secret(s) added to {} ({} already there)",
        to.display(),
        secrets.len() - added
    );
    Ok(())
}

/// `waybill open`: standard input to standard output, every field the key file's
/// secrets open replaced by its value; a summary on standard error.
pub async fn open(key_file: &Path, chain_id: &str, node: Option<&Client>) -> anyhow::Result<()> {
    let keys = KeyFile::read_seal_keys(key_file)?;
    if keys.is_empty() {
        bail!(
            "{} holds no encryption secret, so it opens nothing; ask your organization's admin (`waybill seal-key share`)",
            key_file.display()
        );
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .context("cannot read standard input")?;
    let mut doc: serde_json::Value =
        serde_json::from_str(&text).context("standard input is not JSON")?;
    if let Some(client) = node {
        let (_, member) = KeyFile::read(key_file)?;
        // Erasable fields first: once attached they are whole, and take added wraps
        // like any other.
        let attached = attach_private_parts(client, &member, &keys, &mut doc).await?;
        if attached > 0 {
            eprintln!("{attached} erasable field(s): private part fetched from the node");
        }
        let added = merge_added_wraps(client, &member, &keys, &mut doc).await?;
        if added > 0 {
            eprintln!("{added} wrap(s) added after capture fetched from the node");
        }
    }
    let report = open_all(&mut doc, chain_id, &keys);
    println!("{}", serde_json::to_string_pretty(&doc)?);
    eprintln!(
        "opened {} sealed field(s); {} sealed for other organizations left as they are",
        report.opened, report.not_for_us
    );
    if !report.failed.is_empty() {
        for (at, why) in &report.failed {
            eprintln!("  {at}: {why}");
        }
        bail!(
            "{} sealed field(s) should have opened and did not (left sealed)",
            report.failed.len()
        );
    }
    Ok(())
}

/// For each erasable (detached) field of `doc` sealed for an organization `keys`
/// belong to — at capture, or by a wrap added since — its private part (`GET
/// /v1/sealed/private`, read as `member`) put back in place, so that opening finds it.
/// A part the node does not keep, or an erased field, is said on standard error and
/// left detached. Returns how many were put back.
pub async fn attach_private_parts(
    client: &Client,
    member: &waybill_types::SecretKey,
    keys: &[OrgSecret],
    doc: &mut serde_json::Value,
) -> anyhow::Result<usize> {
    use waybill_types::seal::{PrivatePart, SealedField};
    let ours = |org: &OrgId| keys.iter().any(|k| &k.org == org);
    let mut attached = 0;
    for (at, found) in waybill_types::seal::sealed_fields_in(doc) {
        let Ok(SealedField::Detached(d)) = found else {
            continue;
        };
        if !d.recipients.iter().any(|r| ours(&r.org))
            && added_wraps_for(client, member, &d.record, &d.field, &ours)
                .await
                .is_empty()
        {
            continue;
        }
        let path = format!(
            "/v1/sealed/private?record={}&field={}",
            pct(&d.record),
            pct(&d.field)
        );
        let part = match client.get_as(&path, member).await {
            Ok(v) => serde_json::from_value::<PrivatePart>(v["part"].clone())
                .context("the node's answer holds no private part")?,
            Err(e) => {
                eprintln!("{at}: {e}");
                continue;
            }
        };
        match (d.attach(&part), doc.pointer_mut(&at)) {
            (Ok(whole), Some(slot)) => {
                *slot = whole.to_json();
                attached += 1;
            }
            (Err(e), _) => eprintln!("{at}: the node's private part does not fit: {e}"),
            (Ok(_), None) => {}
        }
    }
    Ok(attached)
}

/// For each sealed field of `doc` not wrapped at capture for an organization `keys`
/// belong to, the wraps added for it since (`GET /v1/sealed`, read as `member`),
/// put beside the others so that opening finds them. Returns how many were added.
pub async fn merge_added_wraps(
    client: &Client,
    member: &waybill_types::SecretKey,
    keys: &[OrgSecret],
    doc: &mut serde_json::Value,
) -> anyhow::Result<usize> {
    let ours = |org: &OrgId| keys.iter().any(|k| &k.org == org);
    let mut added = 0;
    for (at, found) in waybill_types::seal::sealed_fields_in(doc) {
        let Ok(waybill_types::seal::SealedField::Inline(sealed)) = found else {
            continue;
        };
        if sealed.wraps.iter().any(|w| ours(&w.org)) {
            continue;
        }
        let extra = added_wraps_for(client, member, &sealed.record, &sealed.field, &ours).await;
        if let Some(wraps) = doc
            .pointer_mut(&format!("{at}/{}/wraps", waybill_types::seal::SEALED))
            .and_then(serde_json::Value::as_array_mut)
        {
            added += extra.len();
            wraps.extend(extra);
        }
    }
    Ok(added)
}

/// The wraps of `field` of `record` added since capture (`GET /v1/sealed`, read as
/// `member`) for organizations `ours` accepts; none if the member cannot read them.
async fn added_wraps_for(
    client: &Client,
    member: &waybill_types::SecretKey,
    record: &str,
    field: &str,
    ours: &impl Fn(&OrgId) -> bool,
) -> Vec<serde_json::Value> {
    let path = format!("/v1/sealed?record={}&field={}", pct(record), pct(field));
    let Ok(answer) = client.get_as(&path, member).await else {
        return Vec::new(); // not readable by this member, or gone: left sealed
    };
    answer["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["added_wraps"].as_array().cloned().unwrap_or_default())
        .map(|a| a["wrap"].clone())
        .filter(|w| {
            w["org"]
                .as_str()
                .and_then(|o| OrgId::new(o).ok())
                .is_some_and(|o| ours(&o))
        })
        .collect()
}

/// `s` with every byte outside `A-Z a-z 0-9 - . _ ~` percent-encoded (a URI
/// component).
pub fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The sealed field `field` of the event with eventID `record`, as `member` reads it
/// (with the wraps added for `keys`' organizations since capture).
async fn fetch_sealed(
    client: &Client,
    member: &waybill_types::SecretKey,
    keys: &[OrgSecret],
    record: &str,
    field: &str,
) -> anyhow::Result<waybill_types::seal::Sealed> {
    let doc = client
        .get_as(&format!("/epcis/events/{}", pct(record)), member)
        .await
        .with_context(|| format!("reading record {record}"))?;
    let mut event = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["eventID"] == record)
        .cloned()
        .with_context(|| format!("the node's answer holds no event with eventID {record}"))?;
    attach_private_parts(client, member, keys, &mut event).await?;
    merge_added_wraps(client, member, keys, &mut event).await?;
    let v = event
        .pointer(field)
        .with_context(|| format!("record {record} has no field {field}"))?;
    waybill_types::seal::Sealed::from_json(v, record, field)
        .with_context(|| format!("{field} of record {record} is not sealed"))?
        .map_err(|e| anyhow::anyhow!("{field} of record {record}: {e}"))
}

/// `waybill disclose`: open one sealed field with the key file's secrets and write a
/// disclosure (docs/PRIVACY.md "Provable disclosure") — the value, its salt and the
/// node's proof of its commitment — to `out` (standard output if `None`).
pub async fn disclose(
    client: &Client,
    key_file: &Path,
    record: &str,
    field: &str,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    use waybill_types::disclosure::{CommitmentProof, Disclosure, DISCLOSURE_FORMAT};
    let keys = KeyFile::read_seal_keys(key_file)?;
    if keys.is_empty() {
        bail!(
            "{} holds no encryption secret, so it can disclose nothing; ask your organization's admin (`waybill seal-key share`)",
            key_file.display()
        );
    }
    let (_, member) = KeyFile::read(key_file)?;
    let chain_id = client.chain_id().await?;
    let sealed = fetch_sealed(client, &member, &keys, record, field).await?;
    let opened = sealed.open(&chain_id, &keys).map_err(|e| {
        anyhow::anyhow!(
            "{field} of {record} does not open with {}: {e}",
            key_file.display()
        )
    })?;
    let answer = client
        .get_as(
            &format!(
                "/v1/sealed/proof?record={}&field={}",
                pct(record),
                pct(field)
            ),
            &member,
        )
        .await
        .with_context(|| format!("reading the proof of {field} of {record}"))?;
    let proven: CommitmentProof =
        serde_json::from_value(answer).context("the node's commitment proof")?;
    if proven.commitment != sealed.commitment {
        bail!(
            "the node proves commitment {} for {field} of {record}, but the field carries {}",
            proven.commitment,
            sealed.commitment
        );
    }
    let d = Disclosure {
        format: DISCLOSURE_FORMAT.to_owned(),
        value: opened.value,
        salt: hex::encode(opened.salt),
        proven,
    };
    // Checked before it is handed over, against the genesis the node serves.
    let genesis = d
        .proven
        .genesis()
        .map_err(|e| anyhow::anyhow!("the node's genesis: {e}"))?;
    waybill_types::disclosure::verify(
        &d,
        &waybill_types::proof::TrustRoot::Genesis(Box::new(genesis)),
    )
    .map_err(|e| anyhow::anyhow!("the disclosure the node's proof makes does not verify — {e}"))?;
    let text = d.to_text();
    match out {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!(
                "{field} of {record} disclosed to {} (sealed in block {}); anyone checks it with `waybill verify-disclosure {} --genesis GENESIS`",
                p.display(),
                d.proven.height,
                p.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Sign `payload` as `key` and wait for its receipt; fail unless applied.
async fn submit_applied(
    client: &Client,
    key: &waybill_types::SecretKey,
    payload: Payload,
) -> anyhow::Result<serde_json::Value> {
    let chain_id = client.chain_id().await?;
    let what = payload.kind();
    let stx = waybill_client::sign_with(
        key,
        &chain_id,
        waybill_types::tx::random_nonce(),
        waybill_client::now_ms().saturating_add(waybill_client::TX_EXPIRY_MS_DEFAULT),
        payload,
    );
    let answer = client.submit(&stx, true).await?;
    if answer["status"] != "applied" {
        bail!("{what} was not applied: {answer}");
    }
    Ok(answer)
}

/// `waybill seal add-recipient`: as a member of a recipient organization, open the
/// field's data key and wrap it for `to`'s current key.
pub async fn add_recipient(
    client: &Client,
    dir: &Path,
    who: &str,
    (record, field): (&str, &str),
    to: &str,
    deliver_to: &[String],
) -> anyhow::Result<()> {
    let path = member_key_path(dir, who)?;
    let (_, member) = KeyFile::read(&path)?;
    let keys = KeyFile::read_seal_keys(&path)?;
    if keys.is_empty() {
        bail!(
            "{} holds no encryption secret; only a recipient's member (with its organization's secret) can wrap a field for another",
            path.display()
        );
    }
    let sealed = fetch_sealed(client, &member, &keys, record, field).await?;
    let to = OrgId::new(to)?;
    let Some(recipient) = current_key(client, &to).await? else {
        bail!("`{to}` has registered no encryption key, so nothing can be wrapped for it; its admin runs `waybill seal-key rotate`");
    };
    let current = recipient.kv;
    let chain_id = client.chain_id().await?;
    let wrap = sealed
        .rewrap(&chain_id, &keys, &recipient, &mut OsRng)
        .map_err(|e| anyhow::anyhow!("opening {field} of {record} to wrap it: {e}"))?;
    submit_applied(
        client,
        &member,
        Payload::AddSealWraps(waybill_types::payload::AddSealWraps {
            record: record.to_owned(),
            field: field.to_owned(),
            wraps: vec![wrap],
        }),
    )
    .await?;
    println!("{field} of {record} wrapped for `{to}` (key version {current})");
    // An erasable field's private part goes to the newcomer's nodes too (this node
    // keeps it already; the new wrap is on the chain).
    let path = format!(
        "/v1/sealed/private?record={}&field={}",
        pct(record),
        pct(field)
    );
    if let Ok(answer) = client.get_as(&path, &member).await {
        if deliver_to.is_empty() {
            eprintln!("{field} of {record} is erasable: its private part stays on the nodes that keep it; deliver it to a node of `{to}` with --deliver-to URL, unless one of those nodes hosts `{to}`");
            return Ok(());
        }
        let part = serde_json::from_value(answer["part"].clone())
            .context("the node's answer holds no private part")?;
        let spill = PathBuf::from(format!("{}.private-parts.json", to.as_str()));
        deliver(
            &deliver_to
                .iter()
                .map(|u| Client::new(u))
                .collect::<Vec<_>>(),
            &member,
            &[Detachment {
                record: record.to_owned(),
                field: field.to_owned(),
                part,
            }],
            &spill,
        )
        .await?;
    } else if !deliver_to.is_empty() {
        bail!("{field} of {record} is not erasable (or this node does not keep its private part): --deliver-to has nothing to deliver");
    }
    Ok(())
}

/// `waybill seal complain`: as a member of a recipient organization, say its wrap
/// of the field does not open.
pub async fn complain(
    client: &Client,
    dir: &Path,
    who: &str,
    record: &str,
    field: &str,
    reason: &str,
) -> anyhow::Result<()> {
    let member = crate::who::member_key(dir, who)?;
    submit_applied(
        client,
        &member,
        Payload::ComplainSealWrap(waybill_types::payload::ComplainSealWrap {
            record: record.to_owned(),
            field: field.to_owned(),
            reason: reason.to_owned(),
        }),
    )
    .await?;
    println!("complaint recorded: {field} of {record} is flagged until a recipient wraps it again for your organization");
    Ok(())
}

/// `waybill seal erase`: erase an erasable field (`erase_sealed`); the nodes that keep
/// its private part purge it and record so.
pub async fn erase(
    client: &Client,
    dir: &Path,
    who: &str,
    record: &str,
    field: &str,
    reason: &str,
) -> anyhow::Result<()> {
    let member = crate::who::member_key(dir, who)?;
    submit_applied(
        client,
        &member,
        Payload::EraseSealed(waybill_types::payload::EraseSealed {
            record: record.to_owned(),
            field: field.to_owned(),
            reason: reason.to_owned(),
        }),
    )
    .await?;
    println!("erased: {field} of {record}; every node that keeps its private part purges it and records the purge on the chain (GET /v1/sealed/private lists them)");
    Ok(())
}

/// An erasable field's private part, to deliver after the commit.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Detachment {
    /// The record (eventID).
    pub record: String,
    /// The field's pointer.
    pub field: String,
    /// The part.
    pub part: waybill_types::seal::PrivatePart,
}

/// Deliver erasable fields' private parts (`PUT /v1/sealed/private`) to `nodes`, as
/// `key`. A node that keeps private data for none of a field's recipients says so and
/// is skipped; every part must be kept by at least one node, or the parts are written
/// to `spill` and the command fails naming them.
pub(crate) async fn deliver(
    nodes: &[Client],
    key: &waybill_types::SecretKey,
    parts: &[Detachment],
    spill: &Path,
) -> anyhow::Result<()> {
    let mut lost = Vec::new();
    for d in parts {
        let path = format!(
            "/v1/sealed/private?record={}&field={}",
            pct(&d.record),
            pct(&d.field)
        );
        let body = serde_json::to_value(&d.part)?;
        let mut kept = Vec::new();
        for node in nodes {
            match node.put_json_as(&path, key, &body).await {
                Ok(v) => kept.push(format!("{} (for {})", node.base_url(), v["kept_for"])),
                Err(e) if e.code() == Some("not_a_holder") => {
                    eprintln!("{}: {e}", node.base_url());
                }
                Err(e) => eprintln!(
                    "{}: delivering {} of {}: {e}",
                    node.base_url(),
                    d.field,
                    d.record
                ),
            }
        }
        if kept.is_empty() {
            lost.push(d.clone());
        } else {
            eprintln!(
                "{} of {}: private part kept by {}",
                d.field,
                d.record,
                kept.join(", ")
            );
        }
    }
    if !lost.is_empty() {
        std::fs::write(spill, serde_json::to_vec_pretty(&lost)?)
            .with_context(|| format!("cannot write {}", spill.display()))?;
        bail!(
            "no node kept the private part of {} field(s) (first: {} of {}); they are in {} — deliver them to a node of a recipient (--deliver-to URL) with PUT /v1/sealed/private",
            lost.len(),
            lost[0].field,
            lost[0].record,
            spill.display()
        );
    }
    Ok(())
}
