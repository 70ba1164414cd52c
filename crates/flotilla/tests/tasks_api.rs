//! Container instances and tasks through the API, as an agent and a user see them.

mod common;

use common::{call, plane};
use http::StatusCode;
use serde_json::{Value, json};

async fn register_instance(p: &flotilla::server::ControlPlane, cpu: i64, memory: i64) -> String {
    let (status, out) = call(
        p,
        "RegisterContainerInstance",
        json!({
            "cluster": "default",
            "instanceIdentityDocument": "{\"instanceId\":\"i-0123456789abcdef0\",\"availabilityZone\":\"us-east-1a\",\"instanceType\":\"local\"}",
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]}
            ],
            "versionInfo": {"agentVersion": "0.1.0"},
            "attributes": [{"name": "ecs.os-type", "value": "linux"}]
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["containerInstance"]["agentConnected"], true);
    out["containerInstance"]["containerInstanceArn"].as_str().unwrap().to_string()
}

fn resource(shape: &Value, name: &str) -> i64 {
    shape.as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()["integerValue"].as_i64().unwrap()
}

#[tokio::test]
async fn run_report_stop_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let instance = register_instance(&p, 2048, 1000).await;
    call(&p, "RegisterTaskDefinition", json!({"family": "web", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 300, "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]}))
    .await;

    let (status, out) = call(&p, "RunTask", json!({"taskDefinition": "web", "count": 3, "startedBy": "me"})).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["tasks"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["failures"][0]["reason"], "RESOURCE:PORTS", "{out}");
    let task = &out["tasks"][0];
    assert_eq!(task["lastStatus"], "PROVISIONING");
    assert_eq!(task["desiredStatus"], "RUNNING");
    assert_eq!(task["containerInstanceArn"], instance.as_str());
    assert_eq!(task["group"], "family:web");
    assert_eq!(task["availabilityZone"], "us-east-1a");
    let arn = task["taskArn"].as_str().unwrap().to_string();

    let (_, out) = call(&p, "DescribeContainerInstances", json!({"containerInstances": [instance]})).await;
    let ci = &out["containerInstances"][0];
    assert_eq!(resource(&ci["remainingResources"], "MEMORY"), 700);
    assert_eq!(ci["pendingTasksCount"], 1);

    let (_, poll) =
        call(&p, "FlotillaAgentV1.PollTasks", json!({"cluster": "default", "containerInstance": instance})).await;
    assert_eq!(poll["tasks"][0]["taskArn"], arn.as_str());
    assert_eq!(poll["tasks"][0]["definition"]["containerDefinitions"][0]["name"], "app");

    let (status, _) = call(
        &p,
        "SubmitTaskStateChange",
        json!({"cluster": "default", "task": arn, "status": "RUNNING",
        "containers": [{"containerName": "app", "status": "RUNNING", "runtimeId": "abc",
            "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 8080, "protocol": "tcp"}]}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, out) = call(&p, "DescribeTasks", json!({"tasks": [arn, "nope"]})).await;
    let t = &out["tasks"][0];
    assert_eq!(t["lastStatus"], "RUNNING");
    assert_eq!(t["containers"][0]["runtimeId"], "abc");
    assert_eq!(t["containers"][0]["networkBindings"][0]["hostPort"], 8080);
    assert!(t["startedAt"].as_f64().is_some());
    assert!(t["version"].as_i64().unwrap() >= 2);
    assert_eq!(out["failures"][0]["reason"], "MISSING");

    let (_, out) = call(&p, "DescribeClusters", json!({"clusters": ["default"]})).await;
    assert_eq!(out["clusters"][0]["runningTasksCount"], 1);
    assert_eq!(out["clusters"][0]["registeredContainerInstancesCount"], 1);
    let (status, out) = call(&p, "DeleteCluster", json!({"cluster": "default"})).await;
    assert_eq!(
        (status, out["__type"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "ClusterContainsContainerInstancesException")
    );

    let (_, out) = call(&p, "StopTask", json!({"task": arn, "reason": "done"})).await;
    assert_eq!(out["task"]["desiredStatus"], "STOPPED");
    assert_eq!(out["task"]["stopCode"], "UserInitiated");
    let (_, out) = call(&p, "ListTasks", json!({"desiredStatus": "STOPPED"})).await;
    assert_eq!(out["taskArns"], json!([arn]));
    call(
        &p,
        "SubmitTaskStateChange",
        json!({"cluster": "default", "task": arn, "status": "STOPPED",
        "containers": [{"containerName": "app", "status": "STOPPED", "exitCode": 143}]}),
    )
    .await;
    let (_, out) = call(&p, "DescribeTasks", json!({"tasks": [arn]})).await;
    assert_eq!(out["tasks"][0]["lastStatus"], "STOPPED");
    assert_eq!(out["tasks"][0]["stoppedReason"], "done");
    assert_eq!(out["tasks"][0]["containers"][0]["exitCode"], 143);

    let (_, out) = call(&p, "DescribeContainerInstances", json!({"containerInstances": [instance]})).await;
    assert_eq!(resource(&out["containerInstances"][0]["remainingResources"], "MEMORY"), 1000);
    let (_, out) = call(&p, "DeregisterContainerInstance", json!({"containerInstance": instance})).await;
    assert_eq!(out["containerInstance"]["status"], "INACTIVE");
    let (status, out) = call(&p, "DeleteCluster", json!({"cluster": "default"})).await;
    assert_eq!(status, StatusCode::OK, "{out}");
}

#[tokio::test]
async fn draining_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let instance = register_instance(&p, 1024, 512).await;
    call(
        &p,
        "RegisterTaskDefinition",
        json!({"family": "big", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 1024}]}),
    )
    .await;
    call(
        &p,
        "RegisterTaskDefinition",
        json!({"family": "small", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 16}]}),
    )
    .await;
    let (_, out) = call(&p, "RunTask", json!({"taskDefinition": "big"})).await;
    assert_eq!(out["failures"][0]["reason"], "RESOURCE:MEMORY");
    let (status, out) = call(&p, "RunTask", json!({"taskDefinition": "small", "count": 11})).await;
    assert_eq!((status, out["__type"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "InvalidParameterException"));
    let (_, out) = call(&p, "RunTask", json!({"cluster": "nope", "taskDefinition": "small"})).await;
    assert_eq!(out["__type"], "ClusterNotFoundException");
    let (_, out) = call(
        &p,
        "RunTask",
        json!({"taskDefinition": "small",
        "overrides": {"containerOverrides": [{"name": "ghost"}]}}),
    )
    .await;
    assert_eq!(out["__type"], "InvalidParameterException");

    let (_, out) =
        call(&p, "UpdateContainerInstancesState", json!({"containerInstances": [instance], "status": "DRAINING"}))
            .await;
    assert_eq!(out["containerInstances"][0]["status"], "DRAINING");
    let (status, out) = call(&p, "RunTask", json!({"taskDefinition": "small"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a DRAINING instance takes no task: {out}");
    assert_eq!(out["message"], "No Container Instances were found in your cluster.");
    let (_, out) = call(&p, "ListContainerInstances", json!({"status": "DRAINING"})).await;
    assert_eq!(out["containerInstanceArns"], json!([instance]));

    let (_, out) = call(&p, "RunTask", json!({"taskDefinition": "small", "clientToken": "once"})).await;
    assert_eq!(out["__type"], "InvalidParameterException", "a refused call stores nothing for its token");
    call(&p, "UpdateContainerInstancesState", json!({"containerInstances": [instance], "status": "ACTIVE"})).await;
    let (_, first) = call(&p, "RunTask", json!({"taskDefinition": "small", "clientToken": "tok"})).await;
    let (_, second) = call(&p, "RunTask", json!({"taskDefinition": "small", "clientToken": "tok"})).await;
    assert_eq!(first["tasks"][0]["taskArn"], second["tasks"][0]["taskArn"]);
    let (_, out) = call(&p, "ListTasks", json!({})).await;
    assert_eq!(out["taskArns"].as_array().unwrap().len(), 1);
    let (_, out) = call(&p, "DeregisterContainerInstance", json!({"containerInstance": instance})).await;
    assert_eq!(out["__type"], "InvalidParameterException");
}

/// The agent's side of the channel (`flotilla-ecs-model`) reads every answer the
/// control plane gives, and the control plane takes every request the agent sends.
#[tokio::test]
async fn the_agent_channel_shapes_agree_on_both_ends() {
    use flotilla_domain::task::TaskStatus;
    use flotilla_ecs_model::{
        Acknowledgment, ContainerStateChange, ListedTask, PollAnswer, PollTasksRequest,
        RegisterContainerInstanceRequest, RegisterContainerInstanceResponse, Resource, SubmitTaskStateChangeRequest,
    };
    fn to_value(v: &impl serde::Serialize) -> Value {
        serde_json::to_value(v).unwrap()
    }
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let register = RegisterContainerInstanceRequest {
        cluster: Some("default".into()),
        total_resources: vec![Resource::integer("CPU", 1024), Resource::integer("MEMORY", 512)],
        ..RegisterContainerInstanceRequest::default()
    };
    let (status, out) = call(&p, "RegisterContainerInstance", to_value(&register)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let registered: RegisterContainerInstanceResponse = serde_json::from_value(out).unwrap();
    let instance = registered.container_instance.container_instance_arn;

    call(
        &p,
        "RegisterTaskDefinition",
        json!({"family": "web", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 64}]}),
    )
    .await;
    let (status, out) = call(&p, "RunTask", json!({"taskDefinition": "web"})).await;
    assert_eq!(status, StatusCode::OK, "{out}");

    let poll = PollTasksRequest {
        cluster: Some("default".into()),
        container_instance: Some(instance),
        ..PollTasksRequest::default()
    };
    let (status, out) = call(&p, "FlotillaAgentV1.PollTasks", to_value(&poll)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let listed = PollAnswer::from_value(out).expect("a task list").read();
    let [ListedTask::Read(task)] = &listed[..] else { panic!("the agent could not read {listed:?}") };
    assert_eq!((task.desired_status, task.last_status), (TaskStatus::Running, TaskStatus::Provisioning));

    let report = SubmitTaskStateChangeRequest {
        cluster: Some("default".into()),
        task: Some(task.task_arn.clone()),
        status: Some(TaskStatus::Running),
        containers: vec![ContainerStateChange {
            container_name: Some("app".into()),
            runtime_id: Some("c1".into()),
            status: Some(TaskStatus::Running),
            ..ContainerStateChange::default()
        }],
        ..SubmitTaskStateChangeRequest::default()
    };
    let (status, out) = call(&p, "SubmitTaskStateChange", to_value(&report)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(serde_json::from_value::<Acknowledgment>(out).unwrap(), Acknowledgment::accepted());
    let (_, out) = call(&p, "DescribeTasks", json!({"tasks": [task.task_arn]})).await;
    assert_eq!(out["tasks"][0]["lastStatus"], "RUNNING");
    assert_eq!(out["tasks"][0]["containers"][0]["runtimeId"], "c1");
}
