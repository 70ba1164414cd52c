//! The account and region every resource of this control plane belongs to.

use crate::arn::Arn;

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
    /// The ARN of `resource` of `service` in this account and region.
    pub fn arn(&self, service: &str, resource: &str) -> Arn {
        Arn {
            partition: "aws".into(),
            service: service.into(),
            region: self.region.clone(),
            account: self.account_id.clone(),
            resource: resource.into(),
        }
    }

    /// The principal that owns resources: the account's root user.
    pub fn root_principal_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.account_id)
    }

    /// Whether `arn` lives in this account and region.
    pub fn owns(&self, arn: &Arn) -> bool {
        arn.region == self.region && arn.account == self.account_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_arns_of_this_account() {
        let ctx = AccountContext::default();
        let arn = ctx.arn("ecs", "cluster/default");
        assert_eq!(arn.to_string(), "arn:aws:ecs:us-east-1:000000000000:cluster/default");
        assert!(ctx.owns(&arn));
        let other = AccountContext { region: "eu-west-1".into(), ..AccountContext::default() };
        assert!(!other.owns(&arn));
        assert_eq!(ctx.root_principal_arn(), "arn:aws:iam::000000000000:root");
    }
}
