//! Key files: one member's Ed25519 key per JSON file, and the organization's
//! encryption secrets it may read sealed fields with; readable by its owner only.
//!
//! ```json
//! {"label": "...", "public_key": "<hex>", "secret_key": "<hex seed>",
//!  "seal_keys": [{"org": "sichuan-orchard", "kv": 1, "secret": "<hex X25519>"}, ...]}
//! ```
//!
//! Mode 0600. A key file that others can read is refused, so a leaked permission is
//! noticed. `seal_keys` (absent when empty) holds every version of the organization's
//! encryption key the member was given — the current one to read new fields, older
//! ones to read what was sealed before a rotation (docs/PRIVACY.md).

use serde::{Deserialize, Serialize};
use std::path::Path;
use waybill_types::seal::OrgSecret;
use waybill_types::{PublicKey, SecretKey};

/// A key file's contents.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// What the key is for, e.g. "sichuan-orchard admin".
    pub label: String,
    /// The public key.
    pub public_key: PublicKey,
    /// The 32-byte seed, hex.
    pub secret_key: String,
    /// The organization's encryption secrets, each with its organization and version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seal_keys: Vec<OrgSecret>,
}

/// A key file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// I/O.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Readable by others.
    #[error("key file {path} has mode {mode:o}; it must be readable by its owner only: run `chmod 600 {path}`")]
    Permissions {
        /// The file.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// Not a key file.
    #[error("key file {path} is malformed: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Exists already.
    #[error("key file {path} already exists; refusing to overwrite a key")]
    Exists {
        /// The file.
        path: String,
    },
}

impl KeyFile {
    /// Write `key` to a new file at `path` with mode 0600 (never overwrites).
    pub fn write(path: &Path, label: &str, key: &SecretKey) -> Result<(), KeyFileError> {
        let p = path.display().to_string();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| KeyFileError::Io {
                path: p.clone(),
                source,
            })?;
        }
        let kf = KeyFile {
            label: label.to_string(),
            public_key: key.public(),
            secret_key: hex_encode(&key.seed()),
            seal_keys: Vec::new(),
        };
        kf.write_new(path)
    }

    /// Write this key file to a new file at `path`, mode 0600, synced.
    fn write_new(&self, path: &Path) -> Result<(), KeyFileError> {
        use std::io::Write;
        let p = path.display().to_string();
        let json = serde_json::to_string_pretty(self).expect("a key file always serializes");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists { path: p.clone() }
            } else {
                KeyFileError::Io {
                    path: p.clone(),
                    source,
                }
            }
        })?;
        f.write_all(json.as_bytes())
            .map_err(|source| KeyFileError::Io {
                path: p.clone(),
                source,
            })?;
        f.sync_all()
            .map_err(|source| KeyFileError::Io { path: p, source })
    }

    /// Read a key file, refusing one that group or others can read.
    pub fn read(path: &Path) -> Result<(String, SecretKey), KeyFileError> {
        let (kf, key) = KeyFile::load(path)?;
        Ok((kf.label, key))
    }

    /// The encryption secrets a key file holds (none if it holds none).
    pub fn read_seal_keys(path: &Path) -> Result<Vec<OrgSecret>, KeyFileError> {
        Ok(KeyFile::load(path)?.0.seal_keys)
    }

    /// Add encryption secrets to a key file (kept: ones it already holds; a secret for
    /// an organization and version it holds with another value is refused). The file
    /// is replaced atomically: written beside it, synced, renamed over it.
    pub fn add_seal_keys(path: &Path, secrets: &[OrgSecret]) -> Result<usize, KeyFileError> {
        let p = path.display().to_string();
        let (mut kf, _) = KeyFile::load(path)?;
        let mut added = 0;
        for s in secrets {
            match kf.seal_keys.iter().find(|k| k.org == s.org && k.kv == s.kv) {
                Some(k) if k.secret == s.secret => {}
                Some(_) => {
                    return Err(KeyFileError::Malformed {
                        path: p,
                        reason: format!(
                            "it already holds a different secret for {} version {}",
                            s.org, s.kv
                        ),
                    })
                }
                None => {
                    kf.seal_keys.push(s.clone());
                    added += 1;
                }
            }
        }
        kf.seal_keys
            .sort_by(|a, b| (a.org.as_str(), a.kv).cmp(&(b.org.as_str(), b.kv)));
        let tmp = path.with_extension("json.new");
        let _ = std::fs::remove_file(&tmp);
        kf.write_new(&tmp)?;
        std::fs::rename(&tmp, path).map_err(|source| KeyFileError::Io { path: p, source })?;
        Ok(added)
    }

    /// Read and check a key file: mode, form, and that its public key is its secret's.
    fn load(path: &Path) -> Result<(KeyFile, SecretKey), KeyFileError> {
        let p = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|source| KeyFileError::Io {
            path: p.clone(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyFileError::Permissions { path: p, mode });
            }
        }
        let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
            path: p.clone(),
            source,
        })?;
        let kf: KeyFile = serde_json::from_str(&text).map_err(|e| KeyFileError::Malformed {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let key = SecretKey::from_hex(&kf.secret_key).map_err(|e| KeyFileError::Malformed {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        if key.public() != kf.public_key {
            return Err(KeyFileError::Malformed {
                path: p,
                reason: "public_key does not match secret_key".into(),
            });
        }
        Ok((kf, key))
    }
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_permissions() {
        let dir = std::env::temp_dir().join(format!("waybill-keyfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("k.json");
        let key = SecretKey::from_label("kf");
        KeyFile::write(&path, "test", &key).expect("writes");
        let (label, back) = KeyFile::read(&path).expect("reads");
        assert_eq!(label, "test");
        assert_eq!(back.public(), key.public());
        assert!(matches!(
            KeyFile::write(&path, "again", &key),
            Err(KeyFileError::Exists { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(matches!(
                KeyFile::read(&path),
                Err(KeyFileError::Permissions { mode: 0o644, .. })
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
