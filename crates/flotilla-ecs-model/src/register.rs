//! RegisterContainerInstance: the agent presents its node.

use flotilla_domain::container_instance::{Attribute, NodeCapacity, VersionInfo};
use flotilla_domain::tag::Tag;
use serde::{Deserialize, Serialize};

/// botocore's `RegisterContainerInstanceRequest`, as far as Flotilla reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterContainerInstanceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The JSON of an [`InstanceIdentityDocument`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_identity_document: Option<String>,
    #[serde(default)]
    pub total_resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_info: Option<VersionInfo>,
    /// The instance's ARN when registering again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Not in ECS's model: which launch types the node serves (EC2 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<NodeCapacity>,
}

/// The fields of an EC2 instance identity document the agent sends and the
/// control plane reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceIdentityDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// botocore's `Resource`: CPU, MEMORY (`INTEGER`), PORTS, PORTS_UDP (`STRINGSET`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub double_value: f64,
    #[serde(default)]
    pub long_value: i64,
    #[serde(default)]
    pub integer_value: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_set_value: Option<Vec<String>>,
}

impl Resource {
    pub fn integer(name: &str, value: i64) -> Self {
        Self { name: Some(name.into()), resource_type: Some("INTEGER".into()), integer_value: value, ..Self::default() }
    }

    pub fn string_set(name: &str, values: Vec<String>) -> Self {
        Self {
            name: Some(name.into()),
            resource_type: Some("STRINGSET".into()),
            string_set_value: Some(values),
            ..Self::default()
        }
    }
}

/// botocore's `RegisterContainerInstanceResponse`, as far as the agent reads it
/// (the control plane answers with the whole `ContainerInstance`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterContainerInstanceResponse {
    pub container_instance: RegisteredContainerInstance,
}

/// Only the ARN: a status or field newer than the agent must not fail its registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredContainerInstance {
    pub container_instance_arn: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_uses_botocore_names() {
        let request = RegisterContainerInstanceRequest {
            cluster: Some("default".into()),
            total_resources: vec![Resource::integer("CPU", 2048), Resource::string_set("PORTS", vec!["22".into()])],
            version_info: Some(VersionInfo { agent_version: Some("1".into()), ..VersionInfo::default() }),
            attributes: vec![Attribute { name: "ecs.os-type".into(), value: Some("linux".into()) }],
            ..RegisterContainerInstanceRequest::default()
        };
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(
            wire,
            json!({
                "cluster": "default",
                "totalResources": [
                    {"name": "CPU", "type": "INTEGER", "doubleValue": 0.0, "longValue": 0, "integerValue": 2048},
                    {"name": "PORTS", "type": "STRINGSET", "doubleValue": 0.0, "longValue": 0, "integerValue": 0, "stringSetValue": ["22"]},
                ],
                "versionInfo": {"agentVersion": "1"},
                "attributes": [{"name": "ecs.os-type", "value": "linux"}],
            })
        );
        assert_eq!(serde_json::from_value::<RegisterContainerInstanceRequest>(wire).unwrap(), request);
    }

    #[test]
    fn response_reads_the_arn_from_a_whole_container_instance() {
        let answer = json!({"containerInstance": {
            "containerInstanceArn": "arn:aws:ecs:us-east-1:000000000000:container-instance/default/i1",
            "status": "REGISTERING", "ec2InstanceId": "i-1", "registeredResources": [], "agentConnected": true,
        }});
        let read: RegisterContainerInstanceResponse = serde_json::from_value(answer).unwrap();
        assert!(read.container_instance.container_instance_arn.ends_with("/default/i1"));
    }
}
