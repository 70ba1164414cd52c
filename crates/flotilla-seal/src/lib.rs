//! Encryption at rest: values sealed with ChaCha20-Poly1305 under one key kept in the
//! data directory (`seal.key`, 32 random bytes, mode 0600).
//!
//! A sealed value is `1 version byte ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte tag`. Every
//! seal draws a fresh random nonce from the operating system, and a caller-chosen
//! `context` (a record's ARN, say) is bound as associated data, so a sealed value opens
//! only under the context it was sealed with and cannot be moved to another record.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "seal.key";
/// The format version written as a sealed value's first byte.
const VERSION: u8 = 1;
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Seals and opens values under one key. Cloning shares nothing mutable; `Debug` never
/// shows the key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("key", &"<redacted>").finish()
    }
}

/// Why a key could not be loaded or a value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{doing} {}: {source}", path.display())]
    Io { doing: &'static str, path: PathBuf, source: std::io::Error },
    #[error("reading the seal key {}: it holds {len} bytes, not {KEY_LEN}", path.display())]
    BadKey { path: PathBuf, len: usize },
    #[error("generating a seal key: the system's random source failed: {0}")]
    Random(String),
    #[error("opening a sealed value: it is too short ({0} bytes)")]
    TooShort(usize),
    #[error("opening a sealed value: unknown format version {0}")]
    UnknownVersion(u8),
    /// The value was altered, sealed under another key or under another context.
    #[error("opening a sealed value: it does not authenticate (altered, another key or another record)")]
    Authentication,
}

impl Sealer {
    /// Reads `DIR/seal.key` (32 random bytes), creating it with mode 0600 when absent.
    ///
    /// A new key is written to a private temporary file, fsynced and then linked into
    /// place, which fails when the name exists: so a reader never sees a partial key, and
    /// when two processes start at once, the loser reads the winner's key.
    pub fn load_or_create(data_dir: &Path) -> Result<Sealer, SealError> {
        let path = data_dir.join(KEY_FILE);
        match read_key(&path) {
            Ok(key) => return Ok(Sealer::from_key(key)),
            Err(SealError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            Err(other) => return Err(other),
        }
        let key = <[u8; KEY_LEN]>::try_generate().map_err(|e| SealError::Random(e.to_string()))?;
        let tmp = data_dir.join(format!(
            ".{KEY_FILE}.{}.{:016x}",
            std::process::id(),
            u64::try_generate().map_err(|e| SealError::Random(e.to_string()))?
        ));
        let io = |doing: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| SealError::Io { doing, path, source }
        };
        let written = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io("creating the seal key", &tmp))?;
            file.write_all(&key).map_err(io("writing the seal key", &tmp))?;
            file.sync_all().map_err(io("syncing the seal key", &tmp))?;
            Ok::<_, SealError>(())
        })();
        let linked = written.and_then(|()| match std::fs::hard_link(&tmp, &path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io("installing the seal key", &path)(e)),
        });
        // The temporary name is removed whatever happened; a failure to remove it leaves
        // only a private file of no use to anyone.
        let _ = std::fs::remove_file(&tmp);
        if linked? {
            if let Ok(dir) = std::fs::File::open(data_dir) {
                dir.sync_all().map_err(io("syncing the data directory", data_dir))?;
            }
            Ok(Sealer::from_key(key))
        } else {
            // Another process created the key first: use the winner's.
            Ok(Sealer::from_key(read_key(&path)?))
        }
    }

    /// A sealer under a given key (tests, tools).
    pub fn from_key(key: [u8; KEY_LEN]) -> Sealer {
        Sealer { cipher: ChaCha20Poly1305::new(&Key::from(key)) }
    }

    /// Encrypts `plaintext` with a fresh random nonce, binding `context` as associated
    /// data. Format: 1 version byte, 12-byte nonce, ciphertext and tag.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = Nonce::generate();
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad: context })
            // ChaCha20-Poly1305 refuses only messages beyond 256 GiB.
            .expect("ChaCha20-Poly1305 seals any message under 256 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a value [`seal`](Self::seal) produced under the same key and `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN {
            return Err(SealError::TooShort(sealed.len()));
        }
        if sealed[0] != VERSION {
            return Err(SealError::UnknownVersion(sealed[0]));
        }
        let nonce = Nonce::try_from(&sealed[1..1 + NONCE_LEN]).map_err(|_| SealError::TooShort(sealed.len()))?;
        self.cipher
            .decrypt(&nonce, Payload { msg: &sealed[1 + NONCE_LEN..], aad: context })
            .map_err(|_| SealError::Authentication)
    }
}

fn read_key(path: &Path) -> Result<[u8; KEY_LEN], SealError> {
    let io = |source| SealError::Io { doing: "reading the seal key", path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::with_capacity(KEY_LEN);
    file.take(KEY_LEN as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| SealError::BadKey { path: path.to_path_buf(), len: bytes.len() })
}

#[cfg(test)]
mod tests;
