//! Amazon Resource Names for ECS resources, and the account they live in.

use crate::error::{Validated, ValidationError};

/// The region and account every resource of this control plane belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountContext {
    pub region: String,
    pub account_id: String,
}

impl Default for AccountContext {
    fn default() -> Self {
        Self { region: "us-east-1".into(), account_id: "000000000000".into() }
    }
}

impl AccountContext {
    fn prefix(&self) -> String {
        format!("arn:aws:ecs:{}:{}:", self.region, self.account_id)
    }

    pub fn cluster_arn(&self, name: &str) -> String {
        format!("{}cluster/{name}", self.prefix())
    }

    pub fn task_definition_arn(&self, family: &str, revision: i64) -> String {
        format!("{}task-definition/{family}:{revision}", self.prefix())
    }

    pub fn container_instance_arn(&self, cluster: &str, id: &str) -> String {
        format!("{}container-instance/{cluster}/{id}", self.prefix())
    }

    pub fn task_arn(&self, cluster: &str, id: &str) -> String {
        format!("{}task/{cluster}/{id}", self.prefix())
    }

    pub fn container_arn(&self, cluster: &str, task_id: &str, container_id: &str) -> String {
        format!("{}container/{cluster}/{task_id}/{container_id}", self.prefix())
    }

    /// The principal that registers resources: the account's root user.
    pub fn root_principal_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.account_id)
    }

    /// Parses an ECS ARN of this account and region into the resource it names.
    pub fn parse_arn(&self, arn: &str) -> Validated<ResourceArn> {
        let invalid = || ValidationError::invalid_parameter(format!("the arn '{arn}' is not a valid ecs arn"));
        let rest = arn.strip_prefix("arn:aws:ecs:").ok_or_else(invalid)?;
        let mut parts = rest.splitn(3, ':');
        let (region, account, resource) = match (parts.next(), parts.next(), parts.next()) {
            (Some(r), Some(a), Some(res)) => (r, a, res),
            _ => return Err(invalid()),
        };
        if region != self.region || account != self.account_id {
            return Err(ValidationError::invalid_parameter(format!(
                "the arn '{arn}' belongs to region '{region}' and account '{account}', not to this endpoint's region '{}' and account '{}'",
                self.region, self.account_id
            )));
        }
        let (kind, id) = resource.split_once('/').ok_or_else(invalid)?;
        match kind {
            "cluster" if !id.is_empty() => Ok(ResourceArn::Cluster { name: id.to_string() }),
            "task-definition" => {
                let (family, revision) = id.rsplit_once(':').ok_or_else(invalid)?;
                let revision = revision.parse::<i64>().map_err(|_| invalid())?;
                Ok(ResourceArn::TaskDefinition { family: family.to_string(), revision })
            }
            "container-instance" | "task" => {
                let (cluster, id) = id.split_once('/').ok_or_else(invalid)?;
                if cluster.is_empty() || id.is_empty() || id.contains('/') {
                    return Err(invalid());
                }
                let (cluster, id) = (cluster.to_string(), id.to_string());
                Ok(if kind == "task" {
                    ResourceArn::Task { cluster, id }
                } else {
                    ResourceArn::ContainerInstance { cluster, id }
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
    TaskDefinition { family: String, revision: i64 },
    ContainerInstance { cluster: String, id: String },
    Task { cluster: String, id: String },
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
