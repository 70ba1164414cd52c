//! Elastic Load Balancing v2 on the AWS query protocol (`Action=…&Version=2015-12-01`,
//! signing name `elasticloadbalancing`, XML answers): load balancers and target
//! groups with their attributes and tags, listeners and their rules (forward, weighted
//! forward, fixed-response, redirect; host, path, header, method, query and source
//! conditions), and registered targets; the data plane that serves their traffic
//! ([`dataplane`]: HTTP and TCP listeners, health checks), the DNS server for their
//! names (`dns.rs`), and what ECS's service scheduler asks of them (`ecs.rs`).
//!
//! Every error code is chosen in [`error`]; the rules of names, health checks and
//! attributes are in [`model`]; state lives in [`store::ElbStore`].

pub mod dataplane;
mod dns;
mod ecs;
pub mod error;
mod listeners;
mod load_balancers;
pub mod model;
mod params;
mod rules;
pub mod store;
mod tags;
mod target_groups;
mod targets;

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_core::account::AccountContext;
use flotilla_protocol::{
    ArnScope, AwsError, Caller, Operation, OperationInput, QueryRequest, Resources, ServiceModule, Wire,
};

pub use ecs::{TargetGroupInfo, TargetState};
pub use store::ElbStore;

/// The API version requests must name.
pub const VERSION: &str = "2015-12-01";
/// The answers' XML namespace.
pub const XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

/// The ELBv2 service module.
pub struct ElbService {
    store: ElbStore,
    account: AccountContext,
    data_plane: std::sync::Arc<dataplane::DataPlane>,
}

/// What the data plane works with besides the store.
#[derive(Default)]
pub struct DataPlaneSetup {
    /// Where load balancers get their addresses.
    pub pool: dataplane::AddressPool,
    /// Where `instance` targets are reached.
    pub instances: Option<std::sync::Arc<dyn dataplane::InstanceAddresses>>,
    /// Where load balancer metrics go (CloudWatch).
    pub metrics: Option<std::sync::Arc<dyn flotilla_core::metrics::MetricsSink>>,
}

impl ElbService {
    pub fn new(store: ElbStore, account: AccountContext) -> Self {
        Self::with_data_plane(store, account, DataPlaneSetup::default())
    }

    /// The service with its data plane set up as `setup` says.
    pub fn with_data_plane(store: ElbStore, account: AccountContext, setup: DataPlaneSetup) -> Self {
        let data_plane = std::sync::Arc::new(dataplane::DataPlane::new(store.clone(), setup));
        Self { store, account, data_plane }
    }

    /// Opens the store at `location`.
    pub async fn open(
        location: &flotilla_db::StoreLocation,
        account: AccountContext,
        setup: DataPlaneSetup,
    ) -> error::Result<Self> {
        Ok(Self::with_data_plane(ElbStore::open(location).await?, account, setup))
    }
}

fn arn_param(input: &OperationInput<'_>, _scope: &ArnScope<'_>, names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        out.extend(input.str(name).map(str::to_string));
        out.extend(input.strs(name).into_iter().map(str::to_string));
    }
    out
}

fn load_balancer(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    arn_param(input, scope, &["LoadBalancerArn"])
}

fn load_balancers(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    arn_param(input, scope, &["LoadBalancerArns"])
}

fn target_group(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    arn_param(input, scope, &["TargetGroupArn"])
}

fn target_groups(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    arn_param(input, scope, &["TargetGroupArns"])
}

fn listener(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    arn_param(input, scope, &["ListenerArn"])
}

fn listeners(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    arn_param(input, scope, &["ListenerArns"])
}

fn rule(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    arn_param(input, scope, &["RuleArn"])
}

fn rules(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    arn_param(input, scope, &["RuleArns"])
}

fn resources(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    arn_param(input, scope, &["ResourceArns"])
}

const fn op(name: &'static str, action: &'static str, resources: Resources) -> Operation {
    Operation::new(name, action, resources)
}

use Resources::{Any, From};

/// The operations served, with their IAM actions (`elasticloadbalancing:…`).
static OPERATIONS: &[Operation] = &[
    op("CreateLoadBalancer", "elasticloadbalancing:CreateLoadBalancer", Any),
    op("DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers", From(load_balancers)),
    op("DeleteLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer", From(load_balancer)),
    op("DescribeLoadBalancerAttributes", "elasticloadbalancing:DescribeLoadBalancerAttributes", From(load_balancer)),
    op("ModifyLoadBalancerAttributes", "elasticloadbalancing:ModifyLoadBalancerAttributes", From(load_balancer)),
    op("CreateTargetGroup", "elasticloadbalancing:CreateTargetGroup", Any),
    op("DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroups", From(target_groups)),
    op("ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroup", From(target_group)),
    op("DeleteTargetGroup", "elasticloadbalancing:DeleteTargetGroup", From(target_group)),
    op("DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetGroupAttributes", From(target_group)),
    op("ModifyTargetGroupAttributes", "elasticloadbalancing:ModifyTargetGroupAttributes", From(target_group)),
    op("CreateListener", "elasticloadbalancing:CreateListener", From(load_balancer)),
    op("DescribeListeners", "elasticloadbalancing:DescribeListeners", From(listeners)),
    op("ModifyListener", "elasticloadbalancing:ModifyListener", From(listener)),
    op("DeleteListener", "elasticloadbalancing:DeleteListener", From(listener)),
    op("CreateRule", "elasticloadbalancing:CreateRule", From(listener)),
    op("DescribeRules", "elasticloadbalancing:DescribeRules", From(rules)),
    op("ModifyRule", "elasticloadbalancing:ModifyRule", From(rule)),
    op("DeleteRule", "elasticloadbalancing:DeleteRule", From(rule)),
    op("SetRulePriorities", "elasticloadbalancing:SetRulePriorities", Any),
    op("RegisterTargets", "elasticloadbalancing:RegisterTargets", From(target_group)),
    op("DeregisterTargets", "elasticloadbalancing:DeregisterTargets", From(target_group)),
    op("DescribeTargetHealth", "elasticloadbalancing:DescribeTargetHealth", From(target_group)),
    op("AddTags", "elasticloadbalancing:AddTags", From(resources)),
    op("RemoveTags", "elasticloadbalancing:RemoveTags", From(resources)),
    op("DescribeTags", "elasticloadbalancing:DescribeTags", From(resources)),
];

#[async_trait]
impl ServiceModule for ElbService {
    fn wire(&self) -> Wire {
        Wire::Query { version: VERSION, xmlns: XMLNS }
    }

    fn signing_name(&self) -> &'static str {
        "elasticloadbalancing"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError> {
        let q = QueryRequest::parse(&body)?;
        let out = match operation {
            "CreateLoadBalancer" => load_balancers::create(self, &q).await?,
            "DescribeLoadBalancers" => load_balancers::describe(self, &q).await?,
            "DeleteLoadBalancer" => load_balancers::delete(self, &q).await?,
            "DescribeLoadBalancerAttributes" => load_balancers::describe_attributes(self, &q).await?,
            "ModifyLoadBalancerAttributes" => load_balancers::modify_attributes_of(self, &q).await?,
            "CreateTargetGroup" => target_groups::create(self, &q).await?,
            "DescribeTargetGroups" => target_groups::describe(self, &q).await?,
            "ModifyTargetGroup" => target_groups::modify(self, &q).await?,
            "DeleteTargetGroup" => target_groups::delete(self, &q).await?,
            "DescribeTargetGroupAttributes" => target_groups::describe_attributes(self, &q).await?,
            "ModifyTargetGroupAttributes" => target_groups::modify_attributes_of(self, &q).await?,
            "CreateListener" => listeners::create(self, &q).await?,
            "DescribeListeners" => listeners::describe(self, &q).await?,
            "ModifyListener" => listeners::modify(self, &q).await?,
            "DeleteListener" => listeners::delete(self, &q).await?,
            "CreateRule" => rules::create(self, &q).await?,
            "DescribeRules" => rules::describe(self, &q).await?,
            "ModifyRule" => rules::modify(self, &q).await?,
            "DeleteRule" => rules::delete(self, &q).await?,
            "SetRulePriorities" => rules::set_priorities(self, &q).await?,
            "RegisterTargets" => targets::register(self, &q).await?,
            "DeregisterTargets" => targets::deregister(self, &q).await?,
            "DescribeTargetHealth" => targets::describe_health(self, &q).await?,
            "AddTags" => tags::add(self, &q).await?,
            "RemoveTags" => tags::remove(self, &q).await?,
            "DescribeTags" => tags::describe(self, &q).await?,
            other => {
                return Err(AwsError::client(
                    "InvalidAction",
                    format!("Could not find operation {other} for version {VERSION}"),
                ));
            }
        };
        Ok(flotilla_protocol::query_response(operation, XMLNS, &caller.request_id, |w| out.write(w)))
    }

    fn controllers(&self) -> Vec<std::sync::Arc<dyn flotilla_protocol::Controller>> {
        vec![self.data_plane.clone()]
    }

    async fn close(&self) {
        self.data_plane.stop_all();
        self.store.close().await;
    }
}

/// What a handler answers: the contents of `<ActionResult>`.
pub(crate) struct Answer(Box<dyn Fn(&mut flotilla_protocol::XmlWriter) + Send + Sync>);

impl Answer {
    pub(crate) fn new(write: impl Fn(&mut flotilla_protocol::XmlWriter) + Send + Sync + 'static) -> Self {
        Self(Box::new(write))
    }

    pub(crate) fn empty() -> Self {
        Self::new(|_| {})
    }

    fn write(&self, w: &mut flotilla_protocol::XmlWriter) {
        (self.0)(w)
    }
}
