//! Registry passwords: self-validating tokens (`<expiry>.<hmac>`) that
//! GetAuthorizationToken hands out and `/v2/` accepts as the Basic password of user
//! `AWS`. A token is an HMAC-SHA256 under the registry's key over its expiry, so it
//! needs no storage and stays valid across restarts until it expires.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a token is valid: 12 hours, as ECR's.
pub const TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

/// The user name docker login uses with ECR tokens.
pub const USER: &str = "AWS";

/// Issues and checks tokens under one key.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

impl TokenKey {
    pub fn new(key: Vec<u8>) -> Self {
        Self(key)
    }

    fn mac(&self, expires_at: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("hmac takes keys of any length");
        mac.update(b"flotilla-registry-token-v1:");
        mac.update(expires_at.to_string().as_bytes());
        mac
    }

    /// A password valid until `expires_at` (seconds since the epoch).
    pub fn issue(&self, expires_at: i64) -> String {
        format!("{expires_at}.{}", hex::encode(self.mac(expires_at).finalize().into_bytes()))
    }

    /// Whether `password` is a token of this key still valid at `now` (epoch seconds).
    pub fn verify(&self, password: &str, now: i64) -> bool {
        let Some((expiry, mac)) = password.split_once('.') else { return false };
        let (Ok(expires_at), Ok(mac)) = (expiry.parse::<i64>(), hex::decode(mac)) else { return false };
        expires_at > now && self.mac(expires_at).verify_slice(&mac).is_ok()
    }

    /// Checks an `Authorization: Basic …` header value.
    pub fn verify_basic(&self, header: &str, now: i64) -> bool {
        let Some(encoded) = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic ")) else {
            return false;
        };
        let Ok(decoded) = STANDARD.decode(encoded.trim()) else { return false };
        let Ok(text) = String::from_utf8(decoded) else { return false };
        matches!(text.split_once(':'), Some((USER, password)) if self.verify(password, now))
    }
}

/// ECR's `authorizationToken`: base64 of `AWS:<password>`.
pub fn authorization_token(password: &str) -> String {
    STANDARD.encode(format!("{USER}:{password}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_expiry_and_only_under_their_key() {
        let key = TokenKey::new(b"secret".to_vec());
        let t = key.issue(1_000);
        assert!(key.verify(&t, 999));
        assert!(!key.verify(&t, 1_000));
        assert!(!TokenKey::new(b"other".to_vec()).verify(&t, 0));
        assert!(!key.verify(&t.replace("1000.", "2000."), 0));
        assert!(!key.verify("garbage", 0));
        let header = format!("Basic {}", authorization_token(&t));
        assert!(key.verify_basic(&header, 0));
        let wrong_user = format!("Basic {}", STANDARD.encode(format!("bob:{t}")));
        assert!(!key.verify_basic(&wrong_user, 0));
    }
}
