//! A task's `secrets`, fetched as its execution role and given to its containers as
//! environment variables when they are created, as ECS does: the agent asks the
//! control plane for the execution role's temporary credentials
//! (`FlotillaAgentV1.GetTaskRoleCredentials`) and calls Secrets Manager and Parameter
//! Store with them, so the role's policies decide what the task may read.
//!
//! `valueFrom` is a Secrets Manager secret ARN, optionally followed by
//! `:json-key:version-stage:version-id` (each part may be empty), or a Parameter Store
//! parameter name or ARN. Values are never logged nor kept on disk by the agent.

use crate::client::{ClientError, ControlPlaneClient};
use flotilla_ecs_model::AGENT_TARGET;
use flotilla_ecs_model::credentials::{TaskRole, TaskRoleCredentials, TaskRoleCredentialsRequest};
use flotilla_sigv4::Credentials;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Why a task's secrets could not be read: the task stops with
/// `ResourceInitializationError` and this reason.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the task definition has secrets but no executionRoleArn to fetch them with")]
    NoExecutionRole,
    #[error("getting credentials for the execution role: {0}")]
    Credentials(ClientError),
    #[error("retrieving secret {value_from} from Secrets Manager: {source}")]
    SecretsManager { value_from: String, source: ClientError },
    #[error("retrieving parameter {value_from} from SSM Parameter Store: {source}")]
    Ssm { value_from: String, source: ClientError },
    #[error("retrieving parameter {value_from} from SSM Parameter Store: invalid parameters: {invalid}")]
    SsmInvalid { value_from: String, invalid: String },
    #[error("secret {value_from}: {reason}")]
    Value { value_from: String, reason: String },
}

/// Where one secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    SecretsManager { secret_id: String, json_key: Option<String>, stage: Option<String>, version_id: Option<String> },
    Parameter { name: String },
}

/// Reads a `valueFrom`.
pub fn source_of(value_from: &str) -> SecretSource {
    let parts: Vec<&str> = value_from.split(':').collect();
    if parts.len() >= 7 && parts[0] == "arn" && parts[2] == "secretsmanager" && parts[5] == "secret" {
        let part = |i: usize| parts.get(i).filter(|p| !p.is_empty()).map(|p| p.to_string());
        return SecretSource::SecretsManager {
            secret_id: parts[..7].join(":"),
            json_key: part(7),
            stage: part(8),
            version_id: part(9),
        };
    }
    SecretSource::Parameter { name: value_from.to_string() }
}

/// The execution role's credentials for `task_arn` on `container_instance`.
pub async fn execution_credentials(
    agent: &ControlPlaneClient,
    cluster: &str,
    container_instance: &str,
    task_arn: &str,
) -> Result<TaskRoleCredentials, SecretsError> {
    let request = TaskRoleCredentialsRequest {
        cluster: Some(cluster.to_string()),
        container_instance: container_instance.to_string(),
        task_arn: task_arn.to_string(),
        role: TaskRole::Execution,
    };
    agent.call(&format!("{AGENT_TARGET}.GetTaskRoleCredentials"), &request).await.map_err(SecretsError::Credentials)
}

/// A client calling as the role whose credentials these are.
pub fn as_role(agent: &ControlPlaneClient, credentials: &TaskRoleCredentials) -> ControlPlaneClient {
    agent.with_credentials(
        Credentials::new(credentials.access_key_id.clone(), credentials.secret_access_key.clone())
            .with_session_token(credentials.token.clone()),
    )
}

/// The value of one secret, read with `client`.
pub async fn fetch(client: &ControlPlaneClient, value_from: &str) -> Result<String, SecretsError> {
    match source_of(value_from) {
        SecretSource::SecretsManager { secret_id, json_key, stage, version_id } => {
            let mut input = json!({ "SecretId": secret_id });
            if let Some(s) = &stage {
                input["VersionStage"] = json!(s);
            }
            if let Some(v) = &version_id {
                input["VersionId"] = json!(v);
            }
            let out: Value = client
                .call_service("secretsmanager", "secretsmanager.GetSecretValue", &input)
                .await
                .map_err(|source| SecretsError::SecretsManager { value_from: value_from.to_string(), source })?;
            let value_error = |reason: String| SecretsError::Value { value_from: value_from.to_string(), reason };
            let text =
                out["SecretString"].as_str().ok_or_else(|| value_error("the secret has no SecretString".into()))?;
            match json_key {
                None => Ok(text.to_string()),
                Some(key) => {
                    let doc: Value = serde_json::from_str(text)
                        .map_err(|_| value_error(format!("the secret is not JSON, so it has no key '{key}'")))?;
                    match doc.get(&key) {
                        Some(Value::String(s)) => Ok(s.clone()),
                        Some(other) => Ok(other.to_string()),
                        None => Err(value_error(format!("the secret's JSON has no key '{key}'"))),
                    }
                }
            }
        }
        SecretSource::Parameter { name } => {
            let out: Value = client
                .call_service("ssm", "AmazonSSM.GetParameters", &json!({ "Names": [name], "WithDecryption": true }))
                .await
                .map_err(|source| SecretsError::Ssm { value_from: value_from.to_string(), source })?;
            let invalid: Vec<&str> = out["InvalidParameters"]
                .as_array()
                .map(|l| l.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            if !invalid.is_empty() {
                return Err(SecretsError::SsmInvalid {
                    value_from: value_from.to_string(),
                    invalid: invalid.join(", "),
                });
            }
            out["Parameters"][0]["Value"].as_str().map(str::to_string).ok_or_else(|| SecretsError::Value {
                value_from: value_from.to_string(),
                reason: "the parameter has no value".into(),
            })
        }
    }
}

/// Every container's secrets as environment variables (container name → name → value).
pub async fn resolve(
    client: &ControlPlaneClient,
    containers: &[(String, Vec<(String, String)>)],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, SecretsError> {
    let mut out = BTreeMap::new();
    for (container, secrets) in containers {
        let mut env = BTreeMap::new();
        for (name, value_from) in secrets {
            env.insert(name.clone(), fetch(client, value_from).await?);
        }
        out.insert(container.clone(), env);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_from_names_a_secret_with_selectors_or_a_parameter() {
        let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf";
        assert_eq!(
            source_of(arn),
            SecretSource::SecretsManager { secret_id: arn.into(), json_key: None, stage: None, version_id: None }
        );
        assert_eq!(
            source_of(&format!("{arn}:password::")),
            SecretSource::SecretsManager {
                secret_id: arn.into(),
                json_key: Some("password".into()),
                stage: None,
                version_id: None
            }
        );
        assert_eq!(
            source_of(&format!("{arn}::AWSPREVIOUS:")),
            SecretSource::SecretsManager {
                secret_id: arn.into(),
                json_key: None,
                stage: Some("AWSPREVIOUS".into()),
                version_id: None
            }
        );
        assert_eq!(
            source_of(&format!("{arn}:user::v-1")),
            SecretSource::SecretsManager {
                secret_id: arn.into(),
                json_key: Some("user".into()),
                stage: None,
                version_id: Some("v-1".into())
            }
        );
        assert_eq!(source_of("/app/db/url"), SecretSource::Parameter { name: "/app/db/url".into() });
        let p = "arn:aws:ssm:us-east-1:000000000000:parameter/app/key";
        assert_eq!(source_of(p), SecretSource::Parameter { name: p.into() });
    }
}
