//! Registry passwords: self-validating tokens that GetAuthorizationToken hands out and
//! `/v2/` accepts as the Basic password of user `AWS`. A token is an HMAC-SHA256 under
//! the registry's key over its expiry and the principal it was issued to
//! (`<expiry>.<principal hex>.<hmac>`), so it needs no storage, stays valid across
//! restarts until it expires, and `/v2/` requests are authorized as that principal.
//! Tokens the control plane issues for itself (the agents' pulls) name no principal
//! (`<expiry>.<hmac>`) and may do everything, as the root credentials may.

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

    fn mac(&self, expires_at: i64, principal: Option<&TokenPrincipal>) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("hmac takes keys of any length");
        match principal {
            None => mac.update(b"flotilla-registry-token-v1:"),
            Some(_) => mac.update(b"flotilla-registry-token-v2:"),
        }
        mac.update(expires_at.to_string().as_bytes());
        if let Some(p) = principal {
            mac.update(b":");
            mac.update(p.encoded().as_bytes());
        }
        mac
    }

    /// A password of the control plane itself (no principal) valid until `expires_at`
    /// (seconds since the epoch).
    pub fn issue(&self, expires_at: i64) -> String {
        format!("{expires_at}.{}", hex::encode(self.mac(expires_at, None).finalize().into_bytes()))
    }

    /// A password of `principal` valid until `expires_at`.
    pub fn issue_for(&self, expires_at: i64, principal: &TokenPrincipal) -> String {
        let mac = hex::encode(self.mac(expires_at, Some(principal)).finalize().into_bytes());
        format!("{expires_at}.{}.{mac}", principal.encoded())
    }

    /// Whether `password` is a token of this key still valid at `now` (epoch seconds):
    /// `Some(None)` for the control plane's own, `Some(Some(p))` for `p`'s.
    pub fn verify(&self, password: &str, now: i64) -> Option<Option<TokenPrincipal>> {
        let mut parts = password.split('.');
        let (expiry, middle, last) = (parts.next()?, parts.next()?, parts.next());
        if parts.next().is_some() {
            return None;
        }
        let expires_at = expiry.parse::<i64>().ok()?;
        let (principal, mac) = match last {
            None => (None, middle),
            Some(mac) => (Some(TokenPrincipal::decode(middle)?), mac),
        };
        let mac = hex::decode(mac).ok()?;
        (expires_at > now && self.mac(expires_at, principal.as_ref()).verify_slice(&mac).is_ok()).then_some(principal)
    }

    /// Checks an `Authorization: Basic …` header value (see [`TokenKey::verify`]).
    pub fn verify_basic(&self, header: &str, now: i64) -> Option<Option<TokenPrincipal>> {
        let encoded = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic "))?;
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        match text.split_once(':') {
            Some((USER, password)) => self.verify(password, now),
            _ => None,
        }
    }
}

/// Who a registry token was issued to: the caller of GetAuthorizationToken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPrincipal {
    pub access_key_id: String,
    pub arn: String,
}

impl TokenPrincipal {
    fn encoded(&self) -> String {
        hex::encode(format!("{}\n{}", self.access_key_id, self.arn))
    }

    fn decode(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (access_key_id, arn) = text.split_once('\n')?;
        Some(Self { access_key_id: access_key_id.to_string(), arn: arn.to_string() })
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
        assert_eq!(key.verify(&t, 999), Some(None));
        assert_eq!(key.verify(&t, 1_000), None);
        assert_eq!(TokenKey::new(b"other".to_vec()).verify(&t, 0), None);
        assert_eq!(key.verify(&t.replace("1000.", "2000."), 0), None);
        assert_eq!(key.verify("garbage", 0), None);
        let header = format!("Basic {}", authorization_token(&t));
        assert_eq!(key.verify_basic(&header, 0), Some(None));
        let wrong_user = format!("Basic {}", STANDARD.encode(format!("bob:{t}")));
        assert_eq!(key.verify_basic(&wrong_user, 0), None);
    }

    #[test]
    fn tokens_name_their_principal_and_cannot_be_moved_to_another() {
        let key = TokenKey::new(b"secret".to_vec());
        let alice = TokenPrincipal { access_key_id: "AKIAALICE".into(), arn: "arn:aws:iam::1:user/alice".into() };
        let root = TokenPrincipal { access_key_id: "ROOT".into(), arn: "arn:aws:iam::1:root".into() };
        let t = key.issue_for(1_000, &alice);
        assert_eq!(key.verify(&t, 0), Some(Some(alice.clone())));
        let forged = t.replace(&alice.encoded(), &root.encoded());
        assert_eq!(key.verify(&forged, 0), None, "another principal under the same mac");
        let (expiry, rest) = t.split_once('.').unwrap();
        let mac = rest.rsplit('.').next().unwrap();
        assert_eq!(key.verify(&format!("{expiry}.{mac}"), 0), None, "the principal removed");
    }
}
