//! AWS managed policies (`arn:aws:iam::aws:policy/NAME`) users attach most with ECS,
//! limited to the actions of services Flotilla serves. They cannot be changed.

use crate::model::{ManagedPolicy, PolicyVersion};
use flotilla_core::Timestamp;

/// `arn:aws:iam::aws:policy/` — the prefix of every AWS managed policy.
pub const PREFIX: &str = "arn:aws:iam::aws:policy/";

/// (name, path, document) of each AWS managed policy served.
static POLICIES: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecs:Describe*","ecs:List*","ecs:Get*","ecr:Describe*","ecr:List*","ecr:Get*","elasticloadbalancing:Describe*","elasticloadbalancing:List*","elasticloadbalancing:Get*","logs:Describe*","logs:List*","logs:Get*","cloudwatch:Describe*","cloudwatch:List*","cloudwatch:Get*","sqs:Describe*","sqs:List*","sqs:Get*","events:Describe*","events:List*","events:Get*","scheduler:Describe*","scheduler:List*","scheduler:Get*","autoscaling:Describe*","autoscaling:List*","autoscaling:Get*","application-autoscaling:Describe*","application-autoscaling:List*","application-autoscaling:Get*","secretsmanager:Describe*","secretsmanager:List*","secretsmanager:Get*","ssm:Describe*","ssm:List*","ssm:Get*","iam:Describe*","iam:List*","iam:Get*","ecr:BatchGetImage","ecr:BatchCheckLayerAvailability"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonECS_FullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecs:*","elasticloadbalancing:*","application-autoscaling:*","autoscaling:*","cloudwatch:*","logs:*","events:*","iam:PassRole","iam:ListRoles"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonEC2ContainerRegistryFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}"#,
    ),
    (
        "AmazonEC2ContainerRegistryPowerUser",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages","ecr:BatchGetImage","ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview","ecr:ListTagsForResource","ecr:DescribeImageScanFindings","ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload","ecr:PutImage"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonEC2ContainerRegistryReadOnly",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages","ecr:BatchGetImage","ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview","ecr:ListTagsForResource","ecr:DescribeImageScanFindings"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonECSTaskExecutionRolePolicy",
        "/service-role/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:BatchGetImage","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}"#,
    ),
    (
        "SecretsManagerReadWrite",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}"#,
    ),
    (
        "AmazonSSMReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:Describe*","ssm:Get*","ssm:List*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonSQSFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#,
    ),
    (
        "CloudWatchLogsFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}"#,
    ),
];

/// Every AWS managed policy served, as managed policies.
pub fn all() -> Vec<ManagedPolicy> {
    POLICIES
        .iter()
        .enumerate()
        .map(|(i, (name, path, document))| {
            let created = Timestamp(1_420_070_400_000); // 2015-01-01
            ManagedPolicy {
                name: name.to_string(),
                id: format!("ANPAAWSMANAGED{i:07}"),
                arn: format!("{PREFIX}{}{name}", path.trim_start_matches('/')),
                path: path.to_string(),
                created,
                updated: created,
                description: None,
                default_version: "v1".into(),
                versions: vec![PolicyVersion { id: "v1".into(), document: document.to_string(), created }],
                next_version: 2,
                tags: Vec::new(),
            }
        })
        .collect()
}

/// The AWS managed policy `arn`, if it is one served.
pub fn get(arn: &str) -> Option<ManagedPolicy> {
    arn.strip_prefix(PREFIX)?;
    all().into_iter().find(|p| p.arn == arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_iam_policy::{PolicyDocument, PolicyKind};

    #[test]
    fn every_managed_policy_parses() {
        for p in all() {
            PolicyDocument::parse(p.default_document().unwrap(), PolicyKind::Identity)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
        assert!(get("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy").is_some());
        assert!(get("arn:aws:iam::aws:policy/AdministratorAccess").is_some());
        assert!(get("arn:aws:iam::aws:policy/Nope").is_none());
    }
}
