//! `waybill seal-key` and `waybill open`: organizations' encryption keys, and reading
//! sealed fields (docs/PRIVACY.md). Secrets stay in key files; the node only ever sees
//! public keys and ciphertext.

use std::path::Path;

use anyhow::{bail, Context as _};
use rand_core::OsRng;
use waybill_client::{Client, KeyFile};
use waybill_types::payload::RegisterSealKey;
use waybill_types::seal::{open_all, OrgSecret, SealPublicKey, SealSecretKey};
use waybill_types::{OrgId, Payload};

use crate::trace_cmds::member_key_path;

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
    let keys = client
        .get(&format!("/v1/orgs/{org}/seal-keys"))
        .await
        .with_context(|| format!("reading `{org}`'s encryption keys"))?;
    u32::try_from(keys["current"].as_u64().unwrap_or(0))
        .context("the node reports a key version beyond u32")
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
pub fn open(key_file: &Path, chain_id: &str) -> anyhow::Result<()> {
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
