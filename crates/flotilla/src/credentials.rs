//! Root credentials: from the environment, or generated on first start and kept in
//! the data directory (mode 0600).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

pub const ACCESS_KEY_ENV: &str = "FLOTILLA_ROOT_ACCESS_KEY_ID";
pub const SECRET_KEY_ENV: &str = "FLOTILLA_ROOT_SECRET_ACCESS_KEY";
const FILE_NAME: &str = "root-credentials.json";

#[derive(Clone, Serialize, Deserialize)]
pub struct RootCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl RootCredentials {
    /// The environment's pair when both variables are set, else the data
    /// directory's, generating and saving one on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self> {
        if let (Ok(id), Ok(secret)) = (std::env::var(ACCESS_KEY_ENV), std::env::var(SECRET_KEY_ENV))
            && !id.is_empty()
            && !secret.is_empty()
        {
            return Ok(Self { access_key_id: id, secret_access_key: secret });
        }
        let path = data_dir.join(FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading root credentials from {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let creds = Self::generate();
                write_private(&path, &serde_json::to_vec_pretty(&creds)?)
                    .with_context(|| format!("saving root credentials to {}", path.display()))?;
                Ok(creds)
            }
            Err(e) => Err(e).with_context(|| format!("reading root credentials from {}", path.display())),
        }
    }

    fn generate() -> Self {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut random = Vec::with_capacity(64);
        while random.len() < 64 {
            random.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        let id: String = random[..16].iter().map(|b| UPPER[(*b as usize) % UPPER.len()] as char).collect();
        let secret: String = random[16..56].iter().map(|b| SECRET[(*b as usize) % SECRET.len()] as char).collect();
        Self { access_key_id: format!("AKIA{id}"), secret_access_key: secret }
    }
}

/// Writes a file only its owner can read, atomically (temporary file, fsync, rename).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = RootCredentials::load_or_create(dir.path()).unwrap();
        assert!(a.access_key_id.starts_with("AKIA") && a.access_key_id.len() == 20);
        assert_eq!(a.secret_access_key.len(), 40);
        let b = RootCredentials::load_or_create(dir.path()).unwrap();
        assert_eq!(a.secret_access_key, b.secret_access_key);
        assert!(!format!("{a:?}").contains(&a.secret_access_key));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
