//! How service modules use one another, without depending on one another: each
//! adapter implements a trait one module declares with another module's API.
//!
//! - [`RegistryImages`]: ECS pins service deployments' images to the built-in
//!   registry's digests.
//! - [`ElbTargets`]: ECS registers services' tasks with ELBv2 target groups.
//! - [`EcsInstances`]: ELBv2 reaches `instance` targets at their ECS container
//!   instance's host address.
//! - [`CloudWatchSink`]: ECS's task utilization and ELBv2's load balancer metrics
//!   are recorded in CloudWatch.
//! - [`EcsRetirement`]: a terminated Auto Scaling instance's container instance is
//!   deregistered from its ECS cluster.
//! - [`EcsTasks`]: EventBridge's ECS targets run tasks through ECS's RunTask.
//! - [`SqsQueues`]: EventBridge's SQS targets and dead-letter queues get messages
//!   through SQS's SendMessage.
//! - [`EcsCapacity`]: Application Auto Scaling reads and sets ECS services' desired
//!   counts (UpdateService's path).
//! - [`CloudWatchAlarms`]: Application Auto Scaling's target tracking policies own
//!   CloudWatch alarms (PutMetricAlarm's and DeleteAlarms' code).
//! - [`AutoScalingActions`]: a CloudWatch alarm action naming an Application Auto
//!   Scaling policy runs it; other actions go to the handler after it.
//! - [`TaskRoleSessions`]: ECS gets tasks' execution and task role credentials from
//!   IAM, issued to `ecs-tasks.amazonaws.com` when the role trusts it.

use flotilla_ecs_api::{ImageResolver, LoadBalancing, MetricDatum, MetricsSink, TargetGroupInfo};
use flotilla_elbv2::ElbService;
use flotilla_elbv2::dataplane::InstanceAddresses;
use flotilla_elbv2::model::TargetType;
use flotilla_metrics::{Datum, MetricsService};
use flotilla_registry::Registry;
use flotilla_store::{Page, SqlStore, Store};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::OnceLock;

pub struct RegistryImages(pub Registry);

#[async_trait::async_trait]
impl ImageResolver for RegistryImages {
    async fn digest(&self, image: &str) -> Option<String> {
        self.0.digest_of(image).await
    }
}

pub struct ElbTargets(pub Arc<ElbService>);

#[async_trait::async_trait]
impl LoadBalancing for ElbTargets {
    async fn target_group(&self, arn: &str) -> Result<Option<TargetGroupInfo>, String> {
        let info = self.0.target_group_info(arn).await.map_err(|e| e.to_string())?;
        Ok(info.map(|i| TargetGroupInfo { instance_targets: i.target_type == TargetType::Instance, in_use: i.in_use }))
    }

    async fn register(&self, arn: &str, targets: &[(String, i64)]) -> Result<(), String> {
        self.0.register_targets(arn, targets).await.map_err(|e| e.to_string())
    }

    async fn deregister(&self, arn: &str, targets: &[(String, i64)]) -> Result<(), String> {
        self.0.deregister_targets(arn, targets).await.map_err(|e| e.to_string())
    }

    async fn targets(&self, arn: &str) -> Result<Vec<(String, i64, String)>, String> {
        let states = self.0.target_states(arn).await.map_err(|e| e.to_string())?;
        Ok(states.into_iter().map(|s| (s.id, s.port, s.state)).collect())
    }

    async fn rule_exists(&self, arn: &str) -> Result<bool, String> {
        self.0.traffic_rule_exists(arn).await.map_err(|e| e.to_string())
    }

    async fn route(&self, rule: &str, forward: &[(String, i64)]) -> Result<bool, String> {
        self.0.set_forward(rule, forward).await.map_err(|e| e.to_string())
    }
}

/// ECS's task utilization and ELBv2's load balancer metrics go to CloudWatch.
pub struct CloudWatchSink(pub Arc<MetricsService>);

#[async_trait::async_trait]
impl MetricsSink for CloudWatchSink {
    async fn record(&self, data: Vec<MetricDatum>) -> Result<(), String> {
        let data: Vec<Datum> = data
            .into_iter()
            .map(|d| Datum {
                namespace: d.namespace,
                metric_name: d.metric_name,
                dimensions: d.dimensions,
                timestamp_ms: d.timestamp_ms,
                value: d.value,
                unit: d.unit,
            })
            .collect();
        self.0.record(&data).await.map_err(|e| e.to_string())
    }
}

pub struct EcsInstances(pub SqlStore);

#[async_trait::async_trait]
impl InstanceAddresses for EcsInstances {
    /// The host address of the container instance with this EC2 instance id.
    async fn address(&self, instance_id: &str) -> Option<Ipv4Addr> {
        let clusters = self.0.list_cluster_names(Page { after: None, limit: 1000 }).await.ok()?;
        for cluster in clusters {
            let mut page = Page { after: None, limit: 500 };
            loop {
                let loads = self.0.list_container_instances(&cluster, None, true, page.clone()).await.ok()?;
                if let Some(found) = loads.iter().find(|l| l.instance.ec2_instance_id == instance_id) {
                    let address = found.instance.attribute(flotilla_ecs_api::HOST_ADDRESS_ATTRIBUTE)?;
                    return address.value.as_deref()?.parse().ok();
                }
                if loads.len() < 500 {
                    break;
                }
                page.after = loads.last().map(|l| l.instance.id.clone());
            }
        }
        None
    }
}

/// EventBridge's ECS targets run tasks through ECS's own RunTask (its checks, placement
/// and launch path, and its `clientToken`, so a delivery tried twice starts its tasks
/// once). ECS is set after EventBridge is made, because ECS emits its events to
/// EventBridge's default bus.
#[derive(Clone, Default)]
pub struct EcsTasks(pub Arc<OnceLock<Arc<flotilla_ecs_api::EcsService>>>);

#[async_trait::async_trait]
impl flotilla_events::EcsLauncher for EcsTasks {
    async fn run_task(
        &self,
        request: &flotilla_events::EcsRunRequest,
    ) -> Result<Vec<String>, flotilla_events::TargetError> {
        use flotilla_events::{DeliveryCode, TargetError};
        use flotilla_protocol::ServiceModule;
        let Some(ecs) = self.0.get() else {
            return Err(TargetError::new(DeliveryCode::ServiceError, "ECS is not started yet"));
        };
        let caller = flotilla_protocol::Caller::new("events.amazonaws.com", "events-delivery");
        let body = bytes_of(&request.to_run_task_json());
        let answer = ecs.call("RunTask", body, &caller).await.map_err(|e| {
            TargetError::new(DeliveryCode::of_aws_error(&e.code), format!("RunTask: {}: {}", e.code, e.message))
        })?;
        let answer = json_of(answer).await.map_err(|e| TargetError::new(DeliveryCode::ServiceError, e))?;
        let tasks: Vec<String> = answer["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["taskArn"].as_str().map(str::to_string))
            .collect();
        if tasks.is_empty() {
            let reasons: Vec<String> = answer["failures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["reason"].as_str().map(str::to_string))
                .collect();
            return Err(TargetError::new(
                DeliveryCode::ServiceError,
                format!("RunTask started no task: {}", reasons.join(", ")),
            ));
        }
        Ok(tasks)
    }
}

/// EventBridge's SQS targets and dead-letter queues get messages through SQS's own
/// SendMessage (its limits, FIFO rules and durability). SQS is set once it is open.
#[derive(Clone, Default)]
pub struct SqsQueues {
    pub sqs: Arc<OnceLock<Arc<flotilla_sqs::SqsService>>>,
    /// Where clients reach this endpoint (queue URLs start with it).
    pub endpoint: String,
}

#[async_trait::async_trait]
impl flotilla_events::QueueSender for SqsQueues {
    async fn send(&self, message: &flotilla_events::QueueMessage) -> Result<(), flotilla_events::TargetError> {
        use flotilla_events::{DeliveryCode, TargetError};
        use flotilla_protocol::ServiceModule;
        // arn:aws:sqs:REGION:ACCOUNT:NAME -> ENDPOINT/ACCOUNT/NAME
        let parts: Vec<&str> = message.queue_arn.splitn(6, ':').collect();
        let [_, _, "sqs", _, account, name] = parts[..] else {
            return Err(TargetError::new(
                DeliveryCode::InvalidParameter,
                format!("{} is not a queue ARN", message.queue_arn),
            ));
        };
        let mut body = serde_json::json!({
            "QueueUrl": format!("{}/{account}/{name}", self.endpoint.trim_end_matches('/')),
            "MessageBody": message.body,
        });
        if let Some(group) = &message.message_group_id {
            body["MessageGroupId"] = serde_json::json!(group);
        }
        if !message.attributes.is_empty() {
            let attributes: serde_json::Map<String, serde_json::Value> = message
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::json!({"DataType": "String", "StringValue": v})))
                .collect();
            body["MessageAttributes"] = serde_json::Value::Object(attributes);
        }
        let Some(sqs) = self.sqs.get() else {
            return Err(TargetError::new(DeliveryCode::ServiceError, "SQS is not started yet"));
        };
        let caller = flotilla_protocol::Caller::new("events.amazonaws.com", "events-delivery");
        let answer = sqs.call("SendMessage", bytes_of(&body), &caller).await.map_err(|e| {
            TargetError::new(DeliveryCode::of_aws_error(&e.code), format!("SendMessage: {}: {}", e.code, e.message))
        })?;
        if answer.status().is_success() {
            return Ok(());
        }
        let query_code = answer
            .headers()
            .get("x-amzn-query-error")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        let doc = json_of(answer).await.unwrap_or_default();
        let shape =
            doc["__type"].as_str().unwrap_or("InternalError").rsplit('#').next().unwrap_or_default().to_string();
        let code = query_code.unwrap_or(shape);
        let text = doc["message"].as_str().or(doc["Message"].as_str()).unwrap_or_default();
        Err(TargetError::new(
            DeliveryCode::of_aws_error(&code),
            format!("SendMessage to {}: {code}: {text}", message.queue_arn),
        ))
    }
}

fn bytes_of(value: &serde_json::Value) -> axum::body::Bytes {
    axum::body::Bytes::from(value.to_string())
}

/// An in-process answer's JSON body.
async fn json_of(answer: axum::response::Response) -> Result<serde_json::Value, String> {
    let bytes =
        axum::body::to_bytes(answer.into_body(), 16 << 20).await.map_err(|e| format!("reading an answer: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("reading an answer: {e}"))
}

/// An Auto Scaling instance that was terminated leaves ECS as an EC2 instance does:
/// the container instance its agent registered (found by its `ec2InstanceId`) is
/// deregistered from its cluster, with force (its tasks went with the instance).
pub struct EcsRetirement(pub Arc<flotilla_ecs_api::EcsService>);

impl EcsRetirement {
    async fn ecs(&self, operation: &str, input: serde_json::Value) -> Result<serde_json::Value, String> {
        use flotilla_protocol::ServiceModule;
        let caller = flotilla_protocol::Caller::new("flotilla-autoscaling", uuid::Uuid::new_v4().to_string());
        let answer = self
            .0
            .call(operation, axum::body::Bytes::from(input.to_string()), &caller)
            .await
            .map_err(|e| format!("{operation}: {e}"))?;
        let bytes = axum::body::to_bytes(answer.into_body(), 16 << 20)
            .await
            .map_err(|e| format!("reading the answer to {operation}: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("reading the answer to {operation}: {e}"))
    }
}

#[async_trait::async_trait]
impl flotilla_asg::InstanceRetirement for EcsRetirement {
    async fn instance_terminated(&self, cluster: &str, instance_id: &str) -> Result<(), String> {
        let listed = match self
            .ecs(
                "ListContainerInstances",
                serde_json::json!({"cluster": cluster, "filter": format!("ec2InstanceId == {instance_id}")}),
            )
            .await
        {
            Ok(listed) => listed,
            // A cluster that is gone holds no instance.
            Err(e) if e.contains("ClusterNotFoundException") => return Ok(()),
            Err(e) => return Err(e),
        };
        let arns = listed["containerInstanceArns"].as_array().cloned().unwrap_or_default();
        for arn in arns.iter().filter_map(|a| a.as_str()) {
            self.ecs(
                "DeregisterContainerInstance",
                serde_json::json!({"cluster": cluster, "containerInstance": arn, "force": true}),
            )
            .await?;
        }
        Ok(())
    }
}

/// Application Auto Scaling reads and sets ECS services' desired counts through ECS's
/// own UpdateService code.
pub struct EcsCapacity(pub Arc<flotilla_ecs_api::EcsService>);

#[async_trait::async_trait]
impl flotilla_app_autoscaling::ServiceCapacity for EcsCapacity {
    async fn desired(&self, cluster: &str, service: &str) -> Result<Option<i64>, String> {
        self.0.desired_count(cluster, service).await.map_err(|e| e.to_string())
    }

    async fn set_desired(&self, cluster: &str, service: &str, count: i64) -> Result<i64, String> {
        self.0.set_desired_count(cluster, service, count).await.map_err(|e| e.to_string())
    }
}

/// Target tracking policies' alarms are CloudWatch alarms, put and deleted by
/// CloudWatch's own operation code.
pub struct CloudWatchAlarms(pub Arc<MetricsService>);

#[async_trait::async_trait]
impl flotilla_app_autoscaling::ScalingAlarms for CloudWatchAlarms {
    async fn put_alarm(&self, request: &serde_json::Value) -> Result<(), flotilla_app_autoscaling::AlarmError> {
        use flotilla_app_autoscaling::AlarmError;
        use flotilla_metrics::MetricsError;
        self.0.put_metric_alarm(request.clone()).await.map_err(|e| match e {
            MetricsError::InvalidValue(m)
            | MetricsError::Missing(m)
            | MetricsError::Combination(m)
            | MetricsError::LimitExceeded(m) => AlarmError::Refused(m),
            other => AlarmError::Failed(other.to_string()),
        })
    }

    async fn delete_alarm(&self, name: &str) -> Result<(), flotilla_app_autoscaling::AlarmError> {
        match self.0.delete_alarms(&[name.to_string()]).await {
            Ok(()) | Err(flotilla_metrics::MetricsError::NotFound(_)) => Ok(()),
            Err(e) => Err(flotilla_app_autoscaling::AlarmError::Failed(e.to_string())),
        }
    }

    /// DescribeAlarms with the policy ARN as `ActionPrefix`, every page.
    async fn alarms_acting_on(&self, action_arn: &str) -> Result<Vec<String>, flotilla_app_autoscaling::AlarmError> {
        use flotilla_protocol::ServiceModule;
        let failed = |e: String| flotilla_app_autoscaling::AlarmError::Failed(format!("DescribeAlarms: {e}"));
        let caller = flotilla_protocol::Caller::new("application-autoscaling.amazonaws.com", "describe-policy-alarms");
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = serde_json::json!({"ActionPrefix": action_arn, "AlarmTypes": ["MetricAlarm"]});
            if let Some(t) = &token {
                request["NextToken"] = serde_json::json!(t);
            }
            let answer =
                self.0.call("DescribeAlarms", bytes_of(&request), &caller).await.map_err(|e| failed(e.to_string()))?;
            let page = json_of(answer).await.map_err(failed)?;
            for alarm in page["MetricAlarms"].as_array().into_iter().flatten() {
                let acts =
                    alarm["AlarmActions"].as_array().into_iter().flatten().any(|a| a.as_str() == Some(action_arn));
                if let (true, Some(name)) = (acts, alarm["AlarmName"].as_str()) {
                    names.push(name.to_string());
                }
            }
            match page["NextToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(names),
            }
        }
    }
}

/// Alarm actions: an Application Auto Scaling policy ARN
/// (`arn:aws:autoscaling:…:scalingPolicy:ID:resource/…`) runs the policy; any other
/// action goes to `other`.
pub struct AutoScalingActions {
    pub scaling: Arc<flotilla_app_autoscaling::AppAutoScalingService>,
    pub other: Arc<dyn flotilla_metrics::AlarmActions>,
}

#[async_trait::async_trait]
impl flotilla_metrics::AlarmActions for AutoScalingActions {
    async fn invoke(&self, action_arn: &str, change: &flotilla_metrics::AlarmStateChange) -> Result<(), String> {
        use flotilla_metrics::Comparison;
        let application_policy =
            flotilla_metrics::alarm::is_auto_scaling_action(action_arn) && action_arn.contains(":resource/");
        if !application_policy {
            return self.other.invoke(action_arn, change).await;
        }
        let trigger = flotilla_app_autoscaling::AlarmTrigger {
            alarm_name: change.alarm_name.clone(),
            state: change.new_state.as_str().to_string(),
            latest_value: change.latest_value,
            threshold: change.threshold,
            breaches_above: matches!(
                change.comparison,
                Comparison::GreaterThanThreshold | Comparison::GreaterThanOrEqualToThreshold
            ),
            reason_data: change.reason_data.clone(),
            repeated: change.repeated,
        };
        self.scaling.on_alarm(action_arn, &trigger).await.map(|_| ())
    }
}

/// EventBridge Scheduler's targets: ECS RunTask through [`EcsTasks`] and SQS through
/// [`SqsQueues`], as EventBridge's own targets go (the same ECS and SQS paths).
#[derive(Clone)]
pub struct SchedulerTargets {
    pub ecs: EcsTasks,
    pub sqs: SqsQueues,
}

#[async_trait::async_trait]
impl flotilla_scheduler::TargetInvoker for SchedulerTargets {
    async fn invoke(&self, invocation: &flotilla_scheduler::Invocation, input: &str) -> Result<(), String> {
        use flotilla_events::{EcsLauncher, QueueSender};
        let target = &invocation.target;
        if target.arn.starts_with("arn:aws:sqs:") {
            let group = target.sqs_parameters.as_ref().and_then(|p| p["MessageGroupId"].as_str()).map(str::to_string);
            let message = flotilla_events::QueueMessage {
                queue_arn: target.arn.clone(),
                body: input.to_string(),
                message_group_id: group,
                attributes: Vec::new(),
            };
            return self.sqs.send(&message).await.map_err(|e| e.to_string());
        }
        let p = target.ecs_parameters.clone().unwrap_or_default();
        let text = |name: &str| p[name].as_str().map(str::to_string);
        let list = |name: &str| p[name].as_array().cloned().unwrap_or_default();
        // Scheduler's PascalCase members, as ECS's RunTask names them.
        let network_configuration = p["NetworkConfiguration"]["awsvpcConfiguration"].as_object().map(|v| {
            let mut vpc = serde_json::json!({ "subnets": v.get("Subnets").cloned().unwrap_or_default() });
            if let Some(groups) = v.get("SecurityGroups") {
                vpc["securityGroups"] = groups.clone();
            }
            if let Some(public) = v.get("AssignPublicIp") {
                vpc["assignPublicIp"] = public.clone();
            }
            serde_json::json!({ "awsvpcConfiguration": vpc })
        });
        let camel = |items: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
            items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::Object(map) => serde_json::Value::Object(
                        map.into_iter()
                            .map(|(k, v)| {
                                let mut chars = k.chars();
                                let first = chars.next().map(|c| c.to_ascii_lowercase()).unwrap_or_default();
                                (format!("{first}{}", chars.as_str()), v)
                            })
                            .collect(),
                    ),
                    other => other,
                })
                .collect()
        };
        let overrides = serde_json::from_str::<serde_json::Value>(input)
            .ok()
            .filter(|v| v.get("containerOverrides").is_some() || v.get("cpu").is_some() || v.get("memory").is_some());
        let request = flotilla_events::EcsRunRequest {
            cluster_arn: target.arn.clone(),
            task_definition: text("TaskDefinitionArn").unwrap_or_default(),
            count: p["TaskCount"].as_i64().unwrap_or(1),
            launch_type: text("LaunchType"),
            network_configuration,
            placement_constraints: camel(list("PlacementConstraints")),
            placement_strategy: camel(list("PlacementStrategy")),
            capacity_provider_strategy: camel(list("CapacityProviderStrategy")),
            platform_version: text("PlatformVersion"),
            group: text("Group"),
            propagate_tags: text("PropagateTags"),
            tags: Vec::new(),
            reference_id: text("ReferenceId"),
            enable_ecs_managed_tags: p["EnableECSManagedTags"].as_bool(),
            enable_execute_command: p["EnableExecuteCommand"].as_bool(),
            overrides,
            started_by: format!("scheduler/{}", invocation.schedule_name).chars().take(36).collect(),
            // The same for every attempt of one invocation, so ECS launches its tasks once.
            client_token: invocation.id.clone(),
        };
        self.ecs.run_task(&request).await.map(|_| ()).map_err(|e| e.to_string())
    }

    async fn dead_letter(&self, queue_arn: &str, body: &str) -> Result<(), String> {
        use flotilla_events::QueueSender;
        let message = flotilla_events::QueueMessage {
            queue_arn: queue_arn.to_string(),
            body: body.to_string(),
            message_group_id: None,
            attributes: Vec::new(),
        };
        self.sqs.send(&message).await.map_err(|e| e.to_string())
    }
}

/// ECS's capacity providers reach their Auto Scaling groups through EC2 Auto Scaling's
/// own API (its rules for desired capacity and protection). Set once Auto Scaling is
/// open, which needs ECS first (to retire terminated instances).
#[derive(Clone, Default)]
pub struct AsgGroups(pub Arc<OnceLock<Arc<flotilla_asg::AsgService>>>);

impl AsgGroups {
    fn service(&self) -> Result<&flotilla_asg::AsgService, String> {
        self.0.get().map(|a| a.as_ref()).ok_or_else(|| "Auto Scaling is not started yet".to_string())
    }
}

#[async_trait::async_trait]
impl flotilla_ecs_api::InstanceGroups for AsgGroups {
    async fn group(&self, arn_or_name: &str) -> Result<Option<flotilla_ecs_api::InstanceGroup>, String> {
        let group = self.service()?.describe_group(arn_or_name).await.map_err(|e| e.to_string())?;
        Ok(group.filter(|g| !g.deleting).map(|g| flotilla_ecs_api::InstanceGroup {
            arn: g.arn,
            name: g.name,
            min_size: g.min_size,
            max_size: g.max_size,
            desired: g.desired_capacity,
            new_instances_protected: g.new_instances_protected_from_scale_in,
            instances: g
                .instances
                .into_iter()
                .filter(|i| i.lifecycle_state != "Terminating")
                .map(|i| (i.instance_id, i.protected_from_scale_in))
                .collect(),
        }))
    }

    async fn set_desired(&self, arn_or_name: &str, desired: i64) -> Result<(), String> {
        self.service()?.set_desired_capacity(arn_or_name, desired).await.map_err(|e| e.to_string())
    }

    async fn set_protection(&self, arn_or_name: &str, instance_ids: &[String], protected: bool) -> Result<(), String> {
        self.service()?.set_instance_protection(arn_or_name, instance_ids, protected).await.map_err(|e| e.to_string())
    }
}

/// ECS's tasks' roles as STS sessions of IAM.
pub struct TaskRoleSessions(pub Arc<flotilla_iam::access::Access>);

#[async_trait::async_trait]
impl flotilla_ecs_api::RoleSessions for TaskRoleSessions {
    async fn task_session(
        &self,
        role_arn: &str,
        session_name: &str,
        seconds: i64,
    ) -> Result<flotilla_ecs_model::credentials::TaskRoleCredentials, String> {
        let session = self
            .0
            .session_for_service(role_arn, flotilla_ecs_api::ECS_TASKS_PRINCIPAL, session_name, seconds)
            .await
            .map_err(|e| e.to_string())?;
        Ok(flotilla_ecs_model::credentials::TaskRoleCredentials {
            role_arn: session.role_arn,
            access_key_id: session.access_key_id,
            secret_access_key: session.secret,
            token: session.token,
            expiration: session.expires.to_iso8601(),
        })
    }
}
