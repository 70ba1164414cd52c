//! Amazon Resource Names for ECS resources, and the account they live in.

use crate::error::{Validated, ValidationError};
use flotilla_core::Arn;

pub use flotilla_core::AccountContext;

/// The ARNs of ECS resources in an account, and reading them back.
pub trait EcsArns {
    fn cluster_arn(&self, name: &str) -> String;
    fn task_definition_arn(&self, family: &str, revision: i64) -> String;
    fn container_instance_arn(&self, cluster: &str, id: &str) -> String;
    fn task_arn(&self, cluster: &str, id: &str) -> String;
    fn container_arn(&self, cluster: &str, task_id: &str, container_id: &str) -> String;
    fn service_arn(&self, cluster: &str, name: &str) -> String;
    fn capacity_provider_arn(&self, name: &str) -> String;
    /// A service deployment's ARN; `id` is the deployment id's number (`ecs-svc/ID`).
    fn service_deployment_arn(&self, cluster: &str, service: &str, id: &str) -> String;
    /// A service revision's ARN; `id` is the number of the deployment that runs it.
    fn service_revision_arn(&self, cluster: &str, service: &str, id: &str) -> String;
    /// Parses an ECS ARN of this account and region into the resource it names.
    fn parse_arn(&self, arn: &str) -> Validated<ResourceArn>;
}

impl EcsArns for AccountContext {
    fn cluster_arn(&self, name: &str) -> String {
        self.arn("ecs", &format!("cluster/{name}")).to_string()
    }

    fn task_definition_arn(&self, family: &str, revision: i64) -> String {
        self.arn("ecs", &format!("task-definition/{family}:{revision}")).to_string()
    }

    fn container_instance_arn(&self, cluster: &str, id: &str) -> String {
        self.arn("ecs", &format!("container-instance/{cluster}/{id}")).to_string()
    }

    fn task_arn(&self, cluster: &str, id: &str) -> String {
        self.arn("ecs", &format!("task/{cluster}/{id}")).to_string()
    }

    fn container_arn(&self, cluster: &str, task_id: &str, container_id: &str) -> String {
        self.arn("ecs", &format!("container/{cluster}/{task_id}/{container_id}")).to_string()
    }

    fn service_arn(&self, cluster: &str, name: &str) -> String {
        self.arn("ecs", &format!("service/{cluster}/{name}")).to_string()
    }

    fn capacity_provider_arn(&self, name: &str) -> String {
        self.arn("ecs", &format!("capacity-provider/{name}")).to_string()
    }

    fn service_deployment_arn(&self, cluster: &str, service: &str, id: &str) -> String {
        self.arn("ecs", &format!("service-deployment/{cluster}/{service}/{id}")).to_string()
    }

    fn service_revision_arn(&self, cluster: &str, service: &str, id: &str) -> String {
        self.arn("ecs", &format!("service-revision/{cluster}/{service}/{id}")).to_string()
    }

    fn parse_arn(&self, arn: &str) -> Validated<ResourceArn> {
        let invalid = || ValidationError::invalid_parameter(format!("the arn '{arn}' is not a valid ecs arn"));
        let parsed: Arn = arn.parse().map_err(|_| invalid())?;
        if parsed.partition != "aws" || parsed.service != "ecs" {
            return Err(invalid());
        }
        if !self.owns(&parsed) {
            return Err(ValidationError::invalid_parameter(format!(
                "the arn '{arn}' belongs to region '{}' and account '{}', not to this endpoint's region '{}' and account '{}'",
                parsed.region, parsed.account, self.region, self.account_id
            )));
        }
        let (kind, id) = parsed.resource_type_and_id().ok_or_else(invalid)?;
        match kind {
            "cluster" if !id.is_empty() => Ok(ResourceArn::Cluster { name: id.to_string() }),
            "capacity-provider" if !id.is_empty() && !id.contains('/') => {
                Ok(ResourceArn::CapacityProvider { name: id.to_string() })
            }
            "task-definition" => {
                let (family, revision) = id.rsplit_once(':').ok_or_else(invalid)?;
                let revision = revision.parse::<i64>().map_err(|_| invalid())?;
                Ok(ResourceArn::TaskDefinition { family: family.to_string(), revision })
            }
            "service-deployment" | "service-revision" => {
                let mut parts = id.split('/');
                let (Some(cluster), Some(service), Some(id), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(invalid());
                };
                if cluster.is_empty() || service.is_empty() || id.is_empty() {
                    return Err(invalid());
                }
                let (cluster, service, id) = (cluster.to_string(), service.to_string(), id.to_string());
                Ok(if kind == "service-deployment" {
                    ResourceArn::ServiceDeployment { cluster, service, id }
                } else {
                    ResourceArn::ServiceRevision { cluster, service, id }
                })
            }
            "container-instance" | "task" | "service" => {
                let (cluster, id) = id.split_once('/').ok_or_else(invalid)?;
                if cluster.is_empty() || id.is_empty() || id.contains('/') {
                    return Err(invalid());
                }
                let (cluster, id) = (cluster.to_string(), id.to_string());
                Ok(match kind {
                    "task" => ResourceArn::Task { cluster, id },
                    "service" => ResourceArn::Service { cluster, name: id },
                    _ => ResourceArn::ContainerInstance { cluster, id },
                })
            }
            _ => Err(invalid()),
        }
    }
}

/// The resource an ECS ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceArn {
    Cluster { name: String },
    CapacityProvider { name: String },
    TaskDefinition { family: String, revision: i64 },
    ContainerInstance { cluster: String, id: String },
    Task { cluster: String, id: String },
    Service { cluster: String, name: String },
    ServiceDeployment { cluster: String, service: String, id: String },
    ServiceRevision { cluster: String, service: String, id: String },
}

/// ECS's rule for cluster names, task definition families and container names:
/// 1 to 255 letters, digits, hyphens and underscores.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses_arns() {
        let ctx = AccountContext::default();
        assert_eq!(ctx.cluster_arn("default"), "arn:aws:ecs:us-east-1:000000000000:cluster/default");
        assert_eq!(ctx.parse_arn(&ctx.cluster_arn("a-b")).unwrap(), ResourceArn::Cluster { name: "a-b".into() });
        assert_eq!(
            ctx.parse_arn(&ctx.task_definition_arn("web", 7)).unwrap(),
            ResourceArn::TaskDefinition { family: "web".into(), revision: 7 }
        );
        assert_eq!(
            ctx.parse_arn(&ctx.task_arn("default", "abc")).unwrap(),
            ResourceArn::Task { cluster: "default".into(), id: "abc".into() }
        );
        assert_eq!(
            ctx.parse_arn(&ctx.container_instance_arn("c", "i1")).unwrap(),
            ResourceArn::ContainerInstance { cluster: "c".into(), id: "i1".into() }
        );
    }

    #[test]
    fn refuses_foreign_and_malformed_arns() {
        let ctx = AccountContext::default();
        for bad in [
            "arn:aws:ecs:eu-west-1:000000000000:cluster/x",
            "arn:aws:ecs:us-east-1:111111111111:cluster/x",
            "arn:aws:s3:::bucket",
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web",
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:x",
            "arn:aws:ecs:us-east-1:000000000000:cluster/",
            "cluster/x",
        ] {
            assert!(ctx.parse_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn name_rule() {
        assert!(is_valid_name("a_B-9"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name("a.b"));
        assert!(!is_valid_name(&"x".repeat(256)));
        assert!(is_valid_name(&"x".repeat(255)));
    }
}
