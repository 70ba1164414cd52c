//! ECR's operation table: each operation's IAM action (`ecr:` and its name) and the
//! repository it touches (`*` for calls that name none).

use flotilla_protocol::{ArnScope, Operation, OperationInput, Resources};

fn repository_arn(input: &OperationInput<'_>, scope: &ArnScope<'_>, name: &str) -> String {
    let account_id = input.str("registryId").unwrap_or(scope.account_id);
    ArnScope { account_id, ..*scope }.arn("ecr", &format!("repository/{name}"))
}

fn repository(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("repositoryName").map(|name| repository_arn(input, scope, name)).into_iter().collect()
}

fn repositories(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.strs("repositoryNames").into_iter().map(|name| repository_arn(input, scope, name)).collect()
}

fn resource_arn(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.str("resourceArn").map(str::to_string).into_iter().collect()
}

const fn op(name: &'static str, action: &'static str, resources: Resources) -> Operation {
    Operation::new(name, action, resources)
}

use Resources::{Any, From};

/// Every operation of `AmazonEC2ContainerRegistry_V20150921` served here.
pub(crate) static ECR_OPERATIONS: &[Operation] = &[
    op("CreateRepository", "ecr:CreateRepository", From(repository)),
    op("DescribeRepositories", "ecr:DescribeRepositories", From(repositories)),
    op("DeleteRepository", "ecr:DeleteRepository", From(repository)),
    op("GetAuthorizationToken", "ecr:GetAuthorizationToken", Any),
    op("PutImageTagMutability", "ecr:PutImageTagMutability", From(repository)),
    op("PutImageScanningConfiguration", "ecr:PutImageScanningConfiguration", From(repository)),
    op("TagResource", "ecr:TagResource", From(resource_arn)),
    op("UntagResource", "ecr:UntagResource", From(resource_arn)),
    op("ListTagsForResource", "ecr:ListTagsForResource", From(resource_arn)),
    op("SetRepositoryPolicy", "ecr:SetRepositoryPolicy", From(repository)),
    op("GetRepositoryPolicy", "ecr:GetRepositoryPolicy", From(repository)),
    op("DeleteRepositoryPolicy", "ecr:DeleteRepositoryPolicy", From(repository)),
    op("PutLifecyclePolicy", "ecr:PutLifecyclePolicy", From(repository)),
    op("GetLifecyclePolicy", "ecr:GetLifecyclePolicy", From(repository)),
    op("DeleteLifecyclePolicy", "ecr:DeleteLifecyclePolicy", From(repository)),
    op("GetLifecyclePolicyPreview", "ecr:GetLifecyclePolicyPreview", From(repository)),
    op("StartLifecyclePolicyPreview", "ecr:StartLifecyclePolicyPreview", From(repository)),
    op("DescribeImages", "ecr:DescribeImages", From(repository)),
    op("ListImages", "ecr:ListImages", From(repository)),
    op("BatchGetImage", "ecr:BatchGetImage", From(repository)),
    op("BatchDeleteImage", "ecr:BatchDeleteImage", From(repository)),
    op("PutImage", "ecr:PutImage", From(repository)),
    op("BatchCheckLayerAvailability", "ecr:BatchCheckLayerAvailability", From(repository)),
    op("InitiateLayerUpload", "ecr:InitiateLayerUpload", From(repository)),
    op("UploadLayerPart", "ecr:UploadLayerPart", From(repository)),
    op("CompleteLayerUpload", "ecr:CompleteLayerUpload", From(repository)),
    op("GetDownloadUrlForLayer", "ecr:GetDownloadUrlForLayer", From(repository)),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resources(name: &str, input: serde_json::Value) -> Vec<String> {
        let scope = ArnScope { region: "us-east-1", account_id: "000000000000" };
        match ECR_OPERATIONS.iter().find(|o| o.name == name).unwrap().resources {
            Any => vec!["*".into()],
            From(read) => read(&OperationInput::Json(&input), &scope),
        }
    }

    #[test]
    fn repositories_are_read_from_requests() {
        assert_eq!(
            resources("PutImage", json!({"repositoryName": "team/web"})),
            vec!["arn:aws:ecr:us-east-1:000000000000:repository/team/web"]
        );
        assert_eq!(
            resources("DescribeRepositories", json!({"registryId": "111111111111", "repositoryNames": ["a", "b"]})),
            vec!["arn:aws:ecr:us-east-1:111111111111:repository/a", "arn:aws:ecr:us-east-1:111111111111:repository/b"]
        );
        assert!(resources("DescribeRepositories", json!({})).is_empty());
        assert_eq!(resources("GetAuthorizationToken", json!({})), vec!["*"]);
        for op in ECR_OPERATIONS {
            assert_eq!(op.action, format!("ecr:{}", op.name));
        }
    }
}
