//! Amazon Resource Names: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.

use std::fmt;
use std::str::FromStr;

/// An ARN split into its parts. Region and account may be empty (IAM, S3); the
/// resource keeps its own `/` and `:` separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

/// Why a string is not an ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("the arn '{0}' does not start with 'arn:'")]
    Prefix(String),
    #[error("the arn '{0}' has fewer than six ':'-separated parts")]
    TooFewParts(String),
    #[error("the arn '{arn}' has an empty {part}")]
    Empty { arn: String, part: &'static str },
}

impl Arn {
    /// The resource's type and id, split at its first `/` (`task/c/id` →
    /// `("task", "c/id")`); `None` for resources without one.
    pub fn resource_type_and_id(&self) -> Option<(&str, &str)> {
        self.resource.split_once('/')
    }
}

impl FromStr for Arn {
    type Err = ArnError;

    fn from_str(s: &str) -> Result<Self, ArnError> {
        let rest = s.strip_prefix("arn:").ok_or_else(|| ArnError::Prefix(s.to_string()))?;
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts[..] else {
            return Err(ArnError::TooFewParts(s.to_string()));
        };
        for (part, value) in [("partition", partition), ("service", service), ("resource", resource)] {
            if value.is_empty() {
                return Err(ArnError::Empty { arn: s.to_string(), part });
            }
        }
        Ok(Arn {
            partition: partition.into(),
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource: resource.into(),
        })
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arn:{}:{}:{}:{}:{}", self.partition, self.service, self.region, self.account, self.resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        for s in [
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3",
            "arn:aws:ecs:us-east-1:000000000000:task/default/abc",
            "arn:aws:iam::000000000000:root",
            "arn:aws:s3:::bucket/key:with:colons",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf",
        ] {
            let arn: Arn = s.parse().unwrap();
            assert_eq!(arn.to_string(), s);
        }
        let arn: Arn = "arn:aws:ecs:us-east-1:000000000000:task/default/abc".parse().unwrap();
        assert_eq!(arn.service, "ecs");
        assert_eq!(arn.account, "000000000000");
        assert_eq!(arn.resource_type_and_id(), Some(("task", "default/abc")));
    }

    #[test]
    fn refuses_what_is_not_an_arn() {
        assert_eq!("cluster/x".parse::<Arn>(), Err(ArnError::Prefix("cluster/x".into())));
        assert!(matches!("arn:aws:ecs:us-east-1".parse::<Arn>(), Err(ArnError::TooFewParts(_))));
        assert!(matches!("arn:aws::r:a:res".parse::<Arn>(), Err(ArnError::Empty { part: "service", .. })));
        assert!(matches!("arn:aws:ecs:r:a:".parse::<Arn>(), Err(ArnError::Empty { part: "resource", .. })));
        let e = "arn:aws".parse::<Arn>().unwrap_err().to_string();
        assert!(e.contains("'arn:aws'"), "{e}");
    }
}
