//! Credentials and where the verifier finds them.
//!
//! [`SecretKey`] wraps a secret access key so that it never shows up in logs: its `Debug`
//! prints `SecretKey(<redacted>)` and it has no `Display`. [`CredentialStore`] is the seam
//! through which the server looks secrets up by access key id; [`Credentials`] (one fixed
//! key pair, e.g. the root pair from `FLOTILLA_ROOT_*`) and a `HashMap` implement it, and
//! IAM users, roles and session tokens can plug in later behind the same trait.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A secret access key. `Debug` is redacted; read the value with [`SecretKey::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        SecretKey(secret.into())
    }

    /// The secret itself, for computing signatures or persisting it. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl From<String> for SecretKey {
    fn from(s: String) -> Self {
        SecretKey(s)
    }
}

impl From<&str> for SecretKey {
    fn from(s: &str) -> Self {
        SecretKey(s.to_owned())
    }
}

/// An access key pair, optionally with a session token (temporary credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The public access key id, e.g. `AKIDEXAMPLE`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: SecretKey,
    /// The session token of temporary credentials (sent as `X-Amz-Security-Token`).
    pub session_token: Option<String>,
}

impl Credentials {
    /// Long-term credentials (no session token).
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<SecretKey>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// Adds a session token.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where the verifier looks up the secret of an access key id.
pub trait CredentialStore {
    /// The secret of `access_key_id`, or `None` when the key is unknown (or disabled).
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey>;

    /// Whether `session_token` (from `X-Amz-Security-Token`, `None` when absent) is valid
    /// for `access_key_id`. The default accepts only requests without a token, which is
    /// right for stores of long-term keys; stores of temporary credentials override it.
    fn session_token_valid(&self, access_key_id: &str, session_token: Option<&str>) -> bool {
        let _ = access_key_id;
        session_token.is_none()
    }
}

/// One fixed key pair (e.g. the root credentials). A session token, when set, must be
/// presented with every request; when unset, none may be.
impl CredentialStore for Credentials {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        (self.access_key_id == access_key_id).then(|| self.secret_access_key.clone())
    }

    fn session_token_valid(&self, access_key_id: &str, session_token: Option<&str>) -> bool {
        self.access_key_id == access_key_id && self.session_token.as_deref() == session_token
    }
}

/// Long-term keys by access key id.
impl CredentialStore for HashMap<String, SecretKey> {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.get(access_key_id).cloned()
    }
}

impl<T: CredentialStore + ?Sized> CredentialStore for &T {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        (**self).secret_for(access_key_id)
    }
    fn session_token_valid(&self, access_key_id: &str, session_token: Option<&str>) -> bool {
        (**self).session_token_valid(access_key_id, session_token)
    }
}

impl<T: CredentialStore + ?Sized> CredentialStore for Arc<T> {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        (**self).secret_for(access_key_id)
    }
    fn session_token_valid(&self, access_key_id: &str, session_token: Option<&str>) -> bool {
        (**self).session_token_valid(access_key_id, session_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
            .with_session_token("tok-secret");
        let shown = format!("{c:?} {:?}", c.secret_access_key);
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(!shown.contains("tok-secret"), "{shown}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn fixed_pair_store() {
        let c = Credentials::new("AKID", "secret");
        assert_eq!(c.secret_for("AKID").unwrap().expose(), "secret");
        assert!(c.secret_for("OTHER").is_none());
        assert!(c.session_token_valid("AKID", None));
        assert!(!c.session_token_valid("AKID", Some("x")));
        let t = c.clone().with_session_token("x");
        assert!(t.session_token_valid("AKID", Some("x")));
        assert!(!t.session_token_valid("AKID", None));
    }
}
