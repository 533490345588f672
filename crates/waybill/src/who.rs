//! Who acts: a member named on the command line, resolved to its key file.

use std::path::{Path, PathBuf};

use anyhow::bail;
use waybill_client::KeyFile;
use waybill_server::home::Home;
use waybill_types::SecretKey;

/// A member's key: a key file path, a demo member slug (`DIR/keys/members/SLUG.json`),
/// a demo consumer (`DIR/keys/consumers/SLUG.json`) or `admin:ORG`
/// (`DIR/keys/orgs/ORG-admin.json`).
pub fn member_key(dir: &Path, who: &str) -> anyhow::Result<SecretKey> {
    Ok(KeyFile::read(&member_key_path(dir, who)?)?.1)
}

/// The key file [`member_key`] reads for `who`.
pub fn member_key_path(dir: &Path, who: &str) -> anyhow::Result<PathBuf> {
    let home = Home::new(dir);
    let path = if Path::new(who).is_file() {
        PathBuf::from(who)
    } else if let Some(org) = who.strip_prefix("admin:") {
        home.org_admin_key(org)
    } else if home.member_key(who).is_file() {
        home.member_key(who)
    } else {
        home.consumer_key(who)
    };
    if !path.is_file() {
        bail!(
            "no key for `{who}`: give a key file, a member name with a key in {}/keys/members/ (or a demo consumer's in keys/consumers/), or admin:ORG",
            dir.display()
        );
    }
    Ok(path)
}
