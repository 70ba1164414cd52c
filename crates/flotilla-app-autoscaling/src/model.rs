//! What every operation shares: the scalable target's key (only ECS services' desired
//! count is served), ARNs, paging, and the checks of names and numbers, with AWS's
//! words for what is refused.

use crate::error::{Result, ScalingError};
use flotilla_core::AccountContext;
use serde::{Deserialize, Deserializer};

/// The one service namespace served.
pub const NAMESPACE: &str = "ecs";
/// The one scalable dimension served.
pub const DIMENSION: &str = "ecs:service:DesiredCount";

/// Every namespace of the API's model (the others are refused by name).
const NAMESPACES: &[&str] = &[
    "ecs",
    "elasticmapreduce",
    "ec2",
    "appstream",
    "dynamodb",
    "rds",
    "sagemaker",
    "custom-resource",
    "comprehend",
    "lambda",
    "cassandra",
    "kafka",
    "elasticache",
    "neptune",
    "workspaces",
];

/// A scalable target's key: (service namespace, resource id, scalable dimension).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey {
    pub namespace: String,
    pub resource_id: String,
    pub dimension: String,
}

impl TargetKey {
    /// The key of ECS service `service` of `cluster`.
    pub fn ecs(cluster: &str, service: &str) -> TargetKey {
        TargetKey {
            namespace: NAMESPACE.into(),
            resource_id: format!("service/{cluster}/{service}"),
            dimension: DIMENSION.into(),
        }
    }

    /// The ECS service it names: (cluster, service).
    pub fn service(&self) -> (String, String) {
        let mut parts = self.resource_id.splitn(3, '/').skip(1);
        (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string())
    }

    /// `service namespace: ecs, resource ID: …, scalable dimension: …`, as AWS's
    /// not-found messages name a target.
    pub fn describe(&self) -> String {
        format!(
            "service namespace: {}, resource ID: {}, scalable dimension: {}",
            self.namespace, self.resource_id, self.dimension
        )
    }
}

/// A checked `ServiceNamespace`: `ecs`; other namespaces of the model are refused by name.
pub fn check_namespace(namespace: Option<&str>) -> Result<String> {
    let namespace = required(namespace, "ServiceNamespace")?;
    if namespace == NAMESPACE {
        return Ok(namespace.to_string());
    }
    if NAMESPACES.contains(&namespace) {
        return Err(ScalingError::validation(format!(
            "Unsupported service namespace: {namespace}. This endpoint scales ECS services only (ServiceNamespace ecs)."
        )));
    }
    Err(ScalingError::validation(format!(
        "1 validation error detected: Value '{namespace}' at 'serviceNamespace' failed to satisfy constraint: \
         Member must satisfy enum value set: [{}]",
        NAMESPACES.join(", ")
    )))
}

/// A checked `ScalableDimension`: `ecs:service:DesiredCount`.
pub fn check_dimension(dimension: Option<&str>) -> Result<String> {
    let dimension = required(dimension, "ScalableDimension")?;
    if dimension != DIMENSION {
        return Err(ScalingError::validation(format!(
            "Unsupported scalable dimension: {dimension}. This endpoint scales ECS services' desired count only \
             (ScalableDimension {DIMENSION})."
        )));
    }
    Ok(dimension.to_string())
}

/// A checked ECS `ResourceId`: `service/CLUSTER/SERVICE`.
pub fn check_resource_id(resource_id: Option<&str>) -> Result<String> {
    let id = required(resource_id, "ResourceId")?;
    let parts: Vec<&str> = id.split('/').collect();
    let valid_name = |n: &str| {
        !n.is_empty() && n.len() <= 255 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    match parts[..] {
        ["service", cluster, service] if valid_name(cluster) && valid_name(service) => Ok(id.to_string()),
        _ => Err(ScalingError::validation(format!(
            "Unsupported resource ID: {id}. An ECS service's resource ID is service/CLUSTER-NAME/SERVICE-NAME \
             (for example service/default/sample-webapp)."
        ))),
    }
}

/// The key a request names (all three parts checked).
pub fn target_key(namespace: Option<&str>, resource_id: Option<&str>, dimension: Option<&str>) -> Result<TargetKey> {
    let namespace = check_namespace(namespace)?;
    let resource_id = check_resource_id(resource_id)?;
    let dimension = check_dimension(dimension)?;
    Ok(TargetKey { namespace, resource_id, dimension })
}

/// The Describe calls' optional filters: `ResourceId` (checked) and `ScalableDimension`
/// (checked; AWS wants a resource id with it where the call says so).
pub fn filters(
    resource_id: Option<&str>,
    dimension: Option<&str>,
    dimension_needs_resource: bool,
) -> Result<(Option<String>, Option<String>)> {
    let resource = resource_id.map(|r| check_resource_id(Some(r))).transpose()?;
    let dimension = dimension.map(|d| check_dimension(Some(d))).transpose()?;
    if dimension_needs_resource && dimension.is_some() && resource.is_none() {
        return Err(ScalingError::validation(
            "If you specify a scalable dimension, you must also specify a resource ID.",
        ));
    }
    Ok((resource, dimension))
}

pub fn required<T>(value: Option<T>, name: &str) -> Result<T> {
    value.ok_or_else(|| {
        ScalingError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))
    })
}

fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// A name of 1 to `max` printable characters (policy names).
pub fn check_name(name: &str, param: &str, max: usize) -> Result<()> {
    let chars = name.chars().count();
    if chars == 0 || chars > max || name.chars().any(char::is_control) {
        return Err(ScalingError::validation(format!(
            "1 validation error detected: Value '{name}' at '{}' failed to satisfy constraint: Member must have \
             length between 1 and {max} and hold only printable characters",
            lower_first(param)
        )));
    }
    Ok(())
}

/// `MaxResults`: 1 to `max`, `max` when not given.
pub fn max_results(given: Option<i64>, max: i64) -> Result<i64> {
    match given {
        None => Ok(max),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ScalingError::validation(format!("MaxResults must be between 1 and {max}; {n} was given."))),
    }
}

/// The key after which a page starts (a `NextToken`), as parts split by NUL.
pub fn decode_token(token: Option<&str>, parts: usize) -> Result<Option<Vec<String>>> {
    let Some(token) = token else { return Ok(None) };
    let bad = || ScalingError::InvalidNextToken("Invalid token".into());
    let key = flotilla_core::paging::decode_token(token).map_err(|_| bad())?;
    let split: Vec<String> = key.split('\0').map(str::to_string).collect();
    if split.len() != parts {
        return Err(bad());
    }
    Ok(Some(split))
}

/// The `NextToken` of a page ending at `key`.
pub fn encode_token(key: &[&str]) -> String {
    flotilla_core::paging::encode_token(&key.join("\0"))
}

/// A capacity (`MinCapacity`, `MaxCapacity`): 0 or more. ECS allows at most 5,000
/// tasks per service.
pub fn check_capacity(value: i64, param: &str) -> Result<i64> {
    if !(0..=MAX_CAPACITY).contains(&value) {
        return Err(ScalingError::validation(format!(
            "{param} must be between 0 and {MAX_CAPACITY} for an ECS service; {value} was given."
        )));
    }
    Ok(value)
}

/// ECS's quota of tasks per service.
pub const MAX_CAPACITY: i64 = 5000;

/// A cooldown in seconds: 0 to a day.
pub fn check_cooldown(value: Option<i64>, param: &str) -> Result<Option<i64>> {
    match value {
        Some(v) if !(0..=86_400).contains(&v) => {
            Err(ScalingError::validation(format!("{param} must be between 0 and 86400 seconds; {v} was given.")))
        }
        other => Ok(other),
    }
}

/// The service-linked role ECS targets use when no `RoleARN` is given.
pub fn service_linked_role(account: &AccountContext) -> String {
    format!(
        "arn:aws:iam::{}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/\
         AWSServiceRoleForApplicationAutoScaling_ECSService",
        account.account_id
    )
}

/// `arn:aws:application-autoscaling:REGION:ACCOUNT:scalable-target/ID`.
pub fn target_arn(account: &AccountContext, target_id: &str) -> String {
    account.arn("application-autoscaling", &format!("scalable-target/{target_id}")).to_string()
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:scalingPolicy:ID:resource/ecs/RESOURCE:policyName/NAME`.
pub fn policy_arn(account: &AccountContext, policy_id: &str, key: &TargetKey, name: &str) -> String {
    account
        .arn(
            "autoscaling",
            &format!("scalingPolicy:{policy_id}:resource/{}/{}:policyName/{name}", key.namespace, key.resource_id),
        )
        .to_string()
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:scheduledAction:ID:resource/ecs/RESOURCE:scheduledActionName/NAME`.
pub fn scheduled_action_arn(account: &AccountContext, action_id: &str, key: &TargetKey, name: &str) -> String {
    account
        .arn(
            "autoscaling",
            &format!(
                "scheduledAction:{action_id}:resource/{}/{}:scheduledActionName/{name}",
                key.namespace, key.resource_id
            ),
        )
        .to_string()
}

/// The policy id of a policy ARN of this account and region.
pub fn policy_id_of_arn(account: &AccountContext, arn: &str) -> Option<String> {
    let prefix = format!("arn:aws:autoscaling:{}:{}:scalingPolicy:", account.region, account.account_id);
    let rest = arn.strip_prefix(&prefix)?;
    let (id, rest) = rest.split_once(':')?;
    rest.starts_with("resource/").then(|| id.to_string())
}

/// Epoch seconds with a fraction, as AWS JSON writes timestamps.
pub fn epoch(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A timestamp member as AWS JSON reads it: epoch seconds (a number), or an ISO 8601
/// text, in milliseconds.
pub fn timestamp_ms<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Seconds(f64),
        Text(String),
    }
    match Option::<Given>::deserialize(d)? {
        None => Ok(None),
        Some(Given::Seconds(s)) if s.is_finite() => Ok(Some((s * 1000.0).round() as i64)),
        Some(Given::Seconds(_)) => Err(serde::de::Error::custom("a timestamp must be a finite number")),
        Some(Given::Text(t)) => flotilla_core::time::Timestamp::parse_iso8601(&t)
            .map(|t| Some(t.0))
            .map_err(|e| serde::de::Error::custom(e.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ecs_services_are_keys() {
        let key = target_key(Some("ecs"), Some("service/default/web"), Some(DIMENSION)).unwrap();
        assert_eq!(key.service(), ("default".to_string(), "web".to_string()));
        for (ns, id, dim) in [
            ("dynamodb", "service/default/web", DIMENSION),
            ("nope", "service/default/web", DIMENSION),
            ("ecs", "table/web", DIMENSION),
            ("ecs", "service/default", DIMENSION),
            ("ecs", "service/default/web/x", DIMENSION),
            ("ecs", "service/default/web", "dynamodb:table:ReadCapacityUnits"),
        ] {
            let e = target_key(Some(ns), Some(id), Some(dim)).unwrap_err();
            assert!(matches!(e, ScalingError::Validation(_)), "{ns} {id} {dim}");
        }
        let e = target_key(Some("dynamodb"), Some("table/t"), Some("dynamodb:table:ReadCapacityUnits")).unwrap_err();
        assert!(e.to_string().contains("dynamodb"), "the refusal names the namespace: {e}");
    }

    #[test]
    fn policy_arns_name_their_id_and_round_trip() {
        let account = AccountContext::default();
        let key = TargetKey::ecs("default", "web");
        let arn = policy_arn(&account, "abc-1", &key, "cpu");
        assert_eq!(
            arn,
            "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:abc-1:resource/ecs/service/default/web:\
             policyName/cpu"
        );
        assert_eq!(policy_id_of_arn(&account, &arn).as_deref(), Some("abc-1"));
        assert_eq!(
            policy_id_of_arn(&account, "arn:aws:autoscaling:eu-west-1:000000000000:scalingPolicy:x:resource/a"),
            None
        );
    }

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        let t = encode_token(&["service/a/b", "cpu"]);
        assert_eq!(decode_token(Some(&t), 2).unwrap().unwrap(), ["service/a/b", "cpu"]);
        assert!(matches!(decode_token(Some("zz"), 2), Err(ScalingError::InvalidNextToken(_))));
        assert!(matches!(decode_token(Some(&t), 3), Err(ScalingError::InvalidNextToken(_))));
    }
}
