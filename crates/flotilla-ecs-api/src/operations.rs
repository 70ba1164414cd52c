//! ECS's operation table: each operation's IAM action and the resources it touches, as
//! AWS's service authorization reference lists them (`*` where AWS names no resource
//! or the request does not name one), and the agents' channel's.

use flotilla_protocol::{ArnScope, Operation, OperationInput, Resources};

/// The cluster a request names (`cluster`, a name or an ARN; `default` when absent).
fn cluster_name<'a>(input: &OperationInput<'a>) -> &'a str {
    let given = input.str("cluster").unwrap_or("default");
    given.rsplit_once(":cluster/").map_or(given, |(_, name)| name)
}

fn cluster_arn(name: &str, scope: &ArnScope<'_>) -> String {
    if name.starts_with("arn:") { name.to_string() } else { scope.arn("ecs", &format!("cluster/{name}")) }
}

fn cluster(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    vec![cluster_arn(cluster_name(input), scope)]
}

fn clusters(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    let names = input.strs("clusters");
    if names.is_empty() {
        return vec![cluster_arn("default", scope)];
    }
    names.into_iter().map(|n| cluster_arn(n, scope)).collect()
}

/// `kind/CLUSTER/ID` ARNs of ids or ARNs given in `field` (a string or a list).
fn in_cluster(input: &OperationInput<'_>, scope: &ArnScope<'_>, field: &str, kind: &str) -> Vec<String> {
    let cluster = cluster_name(input);
    let mut ids = input.strs(field);
    ids.extend(input.str(field));
    ids.into_iter()
        .map(
            |id| {
                if id.starts_with("arn:") {
                    id.to_string()
                } else {
                    scope.arn("ecs", &format!("{kind}/{cluster}/{id}"))
                }
            },
        )
        .collect()
}

fn container_instances(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    in_cluster(input, scope, "containerInstances", "container-instance")
}

fn container_instance(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    in_cluster(input, scope, "containerInstance", "container-instance")
}

fn tasks(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    in_cluster(input, scope, "tasks", "task")
}

fn task(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    in_cluster(input, scope, "task", "task")
}

fn task_definition_arn(reference: &str, scope: &ArnScope<'_>) -> String {
    if reference.starts_with("arn:") {
        reference.to_string()
    } else {
        scope.arn("ecs", &format!("task-definition/{reference}"))
    }
}

/// RunTask/StartTask: the task definition (`family`, `family:revision` or an ARN).
fn task_definition(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("taskDefinition").map(|r| task_definition_arn(r, scope)).into_iter().collect()
}

fn task_definitions(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.strs("taskDefinitions").into_iter().map(|r| task_definition_arn(r, scope)).collect()
}

/// A service named by `field` (a name or an ARN; a string or a list) in the request's cluster.
fn services_in(input: &OperationInput<'_>, scope: &ArnScope<'_>, field: &str) -> Vec<String> {
    in_cluster(input, scope, field, "service")
}

fn service_name(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    services_in(input, scope, "serviceName")
}

fn service(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    services_in(input, scope, "service")
}

fn services(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    services_in(input, scope, "services")
}

fn service_deployment(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.str("serviceDeploymentArn").map(str::to_string).into_iter().collect()
}

fn service_deployments(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.strs("serviceDeploymentArns").into_iter().map(str::to_string).collect()
}

fn service_revisions(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.strs("serviceRevisionArns").into_iter().map(str::to_string).collect()
}

fn resource_arn(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.str("resourceArn").map(str::to_string).into_iter().collect()
}

const fn op(name: &'static str, action: &'static str, resources: Resources) -> Operation {
    Operation::new(name, action, resources)
}

/// The `ecs:cluster` condition key: the ARN of the cluster the request names.
fn ecs_cluster(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<(&'static str, String)> {
    vec![("ecs:cluster", cluster_arn(cluster_name(input), scope))]
}

/// An operation in one cluster, which policies may limit with `ecs:cluster`.
const fn in_one(name: &'static str, action: &'static str, resources: Resources) -> Operation {
    Operation::new(name, action, resources).conditions(ecs_cluster)
}

use Resources::{Any, From};

/// Every operation of `AmazonEC2ContainerServiceV20141113` served here.
pub(crate) static ECS_OPERATIONS: &[Operation] = &[
    op("CreateCluster", "ecs:CreateCluster", Any),
    op("DescribeClusters", "ecs:DescribeClusters", From(clusters)),
    op("ListClusters", "ecs:ListClusters", Any),
    op("UpdateCluster", "ecs:UpdateCluster", From(cluster)),
    op("UpdateClusterSettings", "ecs:UpdateClusterSettings", From(cluster)),
    op("PutClusterCapacityProviders", "ecs:PutClusterCapacityProviders", From(cluster)),
    op("CreateCapacityProvider", "ecs:CreateCapacityProvider", Any),
    op("DescribeCapacityProviders", "ecs:DescribeCapacityProviders", Any),
    op("UpdateCapacityProvider", "ecs:UpdateCapacityProvider", Any),
    op("DeleteCapacityProvider", "ecs:DeleteCapacityProvider", Any),
    op("DeleteCluster", "ecs:DeleteCluster", From(cluster)),
    op("RegisterTaskDefinition", "ecs:RegisterTaskDefinition", Any),
    op("DescribeTaskDefinition", "ecs:DescribeTaskDefinition", Any),
    op("ListTaskDefinitions", "ecs:ListTaskDefinitions", Any),
    op("ListTaskDefinitionFamilies", "ecs:ListTaskDefinitionFamilies", Any),
    op("DeregisterTaskDefinition", "ecs:DeregisterTaskDefinition", Any),
    op("DeleteTaskDefinitions", "ecs:DeleteTaskDefinitions", From(task_definitions)),
    op("RegisterContainerInstance", "ecs:RegisterContainerInstance", From(cluster)),
    in_one("DeregisterContainerInstance", "ecs:DeregisterContainerInstance", From(cluster)),
    in_one("DescribeContainerInstances", "ecs:DescribeContainerInstances", From(container_instances)),
    in_one("ListContainerInstances", "ecs:ListContainerInstances", From(cluster)),
    in_one("UpdateContainerInstancesState", "ecs:UpdateContainerInstancesState", From(container_instances)),
    op("DiscoverPollEndpoint", "ecs:DiscoverPollEndpoint", Any),
    in_one("PutAttributes", "ecs:PutAttributes", From(cluster)),
    in_one("DeleteAttributes", "ecs:DeleteAttributes", From(cluster)),
    in_one("ListAttributes", "ecs:ListAttributes", From(cluster)),
    in_one("RunTask", "ecs:RunTask", From(task_definition)),
    in_one("StartTask", "ecs:StartTask", From(task_definition)),
    in_one("StopTask", "ecs:StopTask", From(task)),
    in_one("DescribeTasks", "ecs:DescribeTasks", From(tasks)),
    in_one("ListTasks", "ecs:ListTasks", From(cluster)),
    op("SubmitTaskStateChange", "ecs:SubmitTaskStateChange", From(cluster)),
    op("SubmitContainerStateChange", "ecs:SubmitContainerStateChange", From(cluster)),
    in_one("CreateService", "ecs:CreateService", From(service_name)),
    in_one("UpdateService", "ecs:UpdateService", From(service)),
    in_one("DeleteService", "ecs:DeleteService", From(service)),
    in_one("DescribeServices", "ecs:DescribeServices", From(services)),
    in_one("ListServices", "ecs:ListServices", Any),
    in_one("ListServiceDeployments", "ecs:ListServiceDeployments", From(service)),
    op("DescribeServiceDeployments", "ecs:DescribeServiceDeployments", From(service_deployments)),
    op("DescribeServiceRevisions", "ecs:DescribeServiceRevisions", From(service_revisions)),
    op("StopServiceDeployment", "ecs:StopServiceDeployment", From(service_deployment)),
    op("TagResource", "ecs:TagResource", From(resource_arn)),
    op("UntagResource", "ecs:UntagResource", From(resource_arn)),
    op("ListTagsForResource", "ecs:ListTagsForResource", From(resource_arn)),
];

/// `FlotillaAgentV1`: the agents' long poll is ECS's `ecs:Poll` on the instance.
pub(crate) static AGENT_OPERATIONS: &[Operation] = &[
    op("PollTasks", "ecs:Poll", From(container_instance)),
    op("SubmitTaskMetrics", "ecs:Poll", Any),
    op("GetTaskRoleCredentials", "ecs:Poll", From(container_instance)),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resources(name: &str, input: serde_json::Value) -> Vec<String> {
        let scope = ArnScope { region: "us-east-1", account_id: "000000000000" };
        let op = ECS_OPERATIONS.iter().chain(AGENT_OPERATIONS).find(|o| o.name == name).unwrap();
        match op.resources {
            Any => vec!["*".into()],
            From(read) => read(&OperationInput::Json(&input), &scope),
        }
    }

    const P: &str = "arn:aws:ecs:us-east-1:000000000000:";

    #[test]
    fn resources_are_read_from_requests() {
        assert_eq!(resources("ListClusters", json!({})), vec!["*"]);
        assert_eq!(resources("DeleteCluster", json!({"cluster": "web"})), vec![format!("{P}cluster/web")]);
        assert_eq!(resources("DescribeClusters", json!({})), vec![format!("{P}cluster/default")]);
        assert_eq!(
            resources("DescribeClusters", json!({"clusters": ["a", format!("{P}cluster/b")]})),
            vec![format!("{P}cluster/a"), format!("{P}cluster/b")]
        );
        assert_eq!(resources("RunTask", json!({"taskDefinition": "web:3"})), vec![format!("{P}task-definition/web:3")]);
        assert_eq!(
            resources("StopTask", json!({"cluster": format!("{P}cluster/c"), "task": "abc"})),
            vec![format!("{P}task/c/abc")]
        );
        assert_eq!(
            resources("DescribeTasks", json!({"tasks": ["t1", format!("{P}task/x/t2")]})),
            vec![format!("{P}task/default/t1"), format!("{P}task/x/t2")]
        );
        assert_eq!(
            resources("PollTasks", json!({"cluster": "c", "containerInstance": "i1"})),
            vec![format!("{P}container-instance/c/i1")]
        );
        assert_eq!(
            resources("CreateService", json!({"cluster": "c", "serviceName": "web"})),
            vec![format!("{P}service/c/web")]
        );
        assert_eq!(
            resources("DescribeServices", json!({"services": ["a", format!("{P}service/x/b")]})),
            vec![format!("{P}service/default/a"), format!("{P}service/x/b")]
        );
        assert_eq!(
            resources("TagResource", json!({"resourceArn": format!("{P}cluster/c")})),
            vec![format!("{P}cluster/c")]
        );
    }

    #[test]
    fn actions_are_ecs_actions_named_after_their_operations() {
        for op in ECS_OPERATIONS {
            assert_eq!(op.action, format!("ecs:{}", op.name));
        }
    }
}
