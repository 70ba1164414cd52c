//! Credentials for pulling task images. For the control plane's own registry the
//! agent asks ECR's GetAuthorizationToken (as `aws ecr get-login-password` does), so
//! tasks run images from it with no manual `docker login` (as the task's execution
//! role when it has one, so the role's policies decide). A container definition's
//! `repositoryCredentials` names a Secrets Manager secret holding
//! `{"username", "password"}` for any registry; it takes precedence.

use crate::client::{ClientError, ControlPlaneClient};
use crate::runtime::RegistryAuth;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const ECR_TARGET: &str = "AmazonEC2ContainerRegistry_V20150921";
/// Tokens last 12 hours; renew well before.
const RENEW_AFTER: Duration = Duration::from_secs(6 * 3600);

pub struct RegistryLogin {
    client: ControlPlaneClient,
    cached: Mutex<Option<(Instant, RegistryAuth)>>,
}

/// The registry host of an image reference, if it names one (`host[:port]/repo`).
pub fn registry_host(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// Whether two `host:port` strings name the same loopback or identical endpoint.
fn same_host(a: &str, b: &str) -> bool {
    let normalise = |h: &str| h.replace("localhost", "127.0.0.1");
    normalise(a) == normalise(b)
}

impl RegistryLogin {
    pub fn new(client: ControlPlaneClient) -> Self {
        Self { client, cached: Mutex::new(None) }
    }

    /// Whether `image` lives in the control plane's registry.
    pub fn is_own(&self, image: &str) -> bool {
        registry_host(image).is_some_and(|host| same_host(host, self.client.host()))
    }

    /// Credentials for `image` in the control plane's registry issued to the task's
    /// execution role (`client` calls as it), so its pull is authorized as the role; a
    /// role that may not get a token fails the pull with the reason.
    pub async fn auth_as_role(&self, image: &str, client: &ControlPlaneClient) -> Result<RegistryAuth, ClientError> {
        let host = registry_host(image).unwrap_or_default();
        let out: Value = client.call_service("ecr", &format!("{ECR_TARGET}.GetAuthorizationToken"), &json!({})).await?;
        let decoded = out["authorizationData"][0]["authorizationToken"].as_str().and_then(decode_base64);
        let (username, password) = decoded.as_deref().and_then(|d| d.split_once(':')).ok_or_else(|| {
            ClientError::Decode { operation: "GetAuthorizationToken".into(), reason: "no authorization token".into() }
        })?;
        Ok(RegistryAuth { username: username.into(), password: password.into(), server_address: host.into() })
    }

    /// Credentials for `image` when it lives in the control plane's registry.
    pub async fn auth_for(&self, image: &str) -> Option<RegistryAuth> {
        let host = registry_host(image)?;
        if !same_host(host, self.client.host()) {
            return None;
        }
        if let Some((at, auth)) = self.cached.lock().unwrap_or_else(|p| p.into_inner()).clone()
            && at.elapsed() < RENEW_AFTER
        {
            return Some(auth);
        }
        let out: Value =
            match self.client.call_service("ecr", &format!("{ECR_TARGET}.GetAuthorizationToken"), &json!({})).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "getting a registry token failed; pulling without credentials");
                    return None;
                }
            };
        let token = out["authorizationData"][0]["authorizationToken"].as_str()?;
        let decoded = decode_base64(token)?;
        let (username, password) = decoded.split_once(':')?;
        let auth = RegistryAuth {
            username: username.to_string(),
            password: password.to_string(),
            server_address: host.to_string(),
        };
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), auth.clone()));
        Some(auth)
    }
}

/// Why a container's `repositoryCredentials` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("fetching the secret {parameter}: {source}")]
    Fetch { parameter: String, source: ClientError },
    #[error("the secret {parameter} has no SecretString")]
    NoString { parameter: String },
    #[error("the secret {parameter} is not JSON with string fields \"username\" and \"password\"")]
    Shape { parameter: String },
}

/// The registry an image is pulled from: its host, or `docker.io` when it names none.
pub fn registry_of(image: &str) -> &str {
    registry_host(image).unwrap_or("docker.io")
}

/// Reads a `{"username": .., "password": ..}` secret string into credentials for `host`.
fn parse_credentials(parameter: &str, secret: &str, host: &str) -> Result<RegistryAuth, CredentialsError> {
    let shape = || CredentialsError::Shape { parameter: parameter.to_string() };
    let v: Value = serde_json::from_str(secret).map_err(|_| shape())?;
    let (Some(username), Some(password)) = (v["username"].as_str(), v["password"].as_str()) else {
        return Err(shape());
    };
    Ok(RegistryAuth {
        username: username.to_string(),
        password: password.to_string(),
        server_address: host.to_string(),
    })
}

impl RegistryLogin {
    /// Credentials for `image` from the Secrets Manager secret `parameter` (an ARN or
    /// a name), as ECS's private registry authentication does; read as the task's
    /// execution role when `as_role` is given, else as the agent.
    pub async fn auth_from_secret(
        &self,
        image: &str,
        parameter: &str,
        as_role: Option<&ControlPlaneClient>,
    ) -> Result<RegistryAuth, CredentialsError> {
        let out: Value = as_role
            .unwrap_or(&self.client)
            .call_service("secretsmanager", "secretsmanager.GetSecretValue", &json!({"SecretId": parameter}))
            .await
            .map_err(|source| CredentialsError::Fetch { parameter: parameter.to_string(), source })?;
        let secret = out["SecretString"]
            .as_str()
            .ok_or_else(|| CredentialsError::NoString { parameter: parameter.to_string() })?;
        parse_credentials(parameter, secret, registry_of(image))
    }
}

/// Standard base64 (with or without padding) to text.
fn decode_base64(s: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_registry_hosts() {
        assert_eq!(registry_host("127.0.0.1:7700/app:1"), Some("127.0.0.1:7700"));
        assert_eq!(registry_host("localhost/app"), Some("localhost"));
        assert_eq!(registry_host("library/busybox"), None);
        assert_eq!(registry_host("busybox"), None);
        assert!(same_host("localhost:7700", "127.0.0.1:7700"));
    }

    #[test]
    fn reads_credentials_secrets() {
        let auth = parse_credentials("s", r#"{"username":"AWS","password":"pw"}"#, registry_of("busybox")).unwrap();
        assert_eq!((auth.username.as_str(), auth.password.as_str()), ("AWS", "pw"));
        assert_eq!(auth.server_address, "docker.io");
        assert_eq!(registry_of("127.0.0.1:7700/app:1"), "127.0.0.1:7700");
        let e = parse_credentials("s", "not json", "h").unwrap_err();
        assert!(!e.to_string().contains("not json"), "the secret's text is never shown");
        assert!(parse_credentials("s", r#"{"username":"u"}"#, "h").is_err());
        assert!(parse_credentials("s", r#"{"username":"u","password":1}"#, "h").is_err());
    }

    #[test]
    fn decodes_tokens() {
        assert_eq!(decode_base64("QVdTOnNlY3JldA==").as_deref(), Some("AWS:secret"));
        assert_eq!(decode_base64("QVdTOnNlY3JldA").as_deref(), Some("AWS:secret"));
        assert_eq!(decode_base64("!!"), None);
    }
}
