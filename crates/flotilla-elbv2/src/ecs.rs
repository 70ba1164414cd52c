//! What ECS's service scheduler asks of load balancing: a target group's settings,
//! registering and deregistering a service's tasks, and its targets' states (the same
//! rules as RegisterTargets, DeregisterTargets and DescribeTargetHealth).

use crate::ElbService;
use crate::error::{ElbError, Result};
use crate::listeners::load_balancers_of;
use crate::model::{RegisteredTarget, TargetGroup, TargetType};
use flotilla_core::time::Timestamp;

/// What ECS needs to know of a target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupInfo {
    pub target_type: TargetType,
    pub port: i64,
    /// Whether a listener or rule of some load balancer forwards to it.
    pub in_use: bool,
    pub deregistration_delay_seconds: i64,
}

/// A target's state as DescribeTargetHealth shows it (`initial`, `healthy`,
/// `unhealthy`, `draining`, `unused`, `unavailable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetState {
    pub id: String,
    pub port: i64,
    pub state: String,
}

impl ElbService {
    pub async fn target_group_info(&self, arn: &str) -> Result<Option<TargetGroupInfo>> {
        let Some(tg) = self.store.get::<TargetGroup>(arn).await? else { return Ok(None) };
        Ok(Some(TargetGroupInfo {
            target_type: tg.target_type,
            port: tg.port,
            in_use: !load_balancers_of(self, arn).await?.is_empty(),
            deregistration_delay_seconds: tg
                .attributes
                .get("deregistration_delay.timeout_seconds")
                .and_then(|v| v.parse().ok())
                .unwrap_or(300),
        }))
    }

    /// Registers (id, port) targets; registering one again ends its drain.
    pub async fn register_targets(&self, arn: &str, targets: &[(String, i64)]) -> Result<()> {
        let now = Timestamp::now();
        self.change_targets(arn, |tg| {
            for (id, port) in targets {
                match tg.targets.iter_mut().find(|t| &t.id == id && t.port == *port) {
                    Some(t) => t.deregistering_since = None,
                    None => tg.targets.push(RegisteredTarget {
                        id: id.clone(),
                        port: *port,
                        availability_zone: None,
                        registered_at: now,
                        deregistering_since: None,
                    }),
                }
            }
        })
        .await
    }

    /// Starts draining (id, port) targets; unknown ones are ignored.
    pub async fn deregister_targets(&self, arn: &str, targets: &[(String, i64)]) -> Result<()> {
        let now = Timestamp::now();
        self.change_targets(arn, |tg| {
            for t in tg.targets.iter_mut().filter(|t| targets.iter().any(|(id, port)| &t.id == id && t.port == *port)) {
                t.deregistering_since.get_or_insert(now);
            }
        })
        .await
    }

    /// Every registered target's state (drained ones are gone).
    pub async fn target_states(&self, arn: &str) -> Result<Vec<TargetState>> {
        let Some(mut tg) = self.store.get::<TargetGroup>(arn).await? else {
            return Err(ElbError::TargetGroupNotFound(format!("Target group '{arn}' not found")));
        };
        crate::targets::prune(&mut tg, Timestamp::now());
        let in_use = !load_balancers_of(self, arn).await?.is_empty();
        let recorded = self.store.health(arn).await?;
        Ok(tg
            .targets
            .iter()
            .map(|t| TargetState {
                id: t.id.clone(),
                port: t.port,
                state: crate::targets::state_of(t, in_use, tg.health_check.enabled, &recorded).0.to_string(),
            })
            .collect())
    }

    async fn change_targets(&self, arn: &str, apply: impl Fn(&mut TargetGroup)) -> Result<()> {
        let now = Timestamp::now();
        crate::targets::change(self, arn, |tg| {
            crate::targets::prune(tg, now);
            apply(tg);
            Ok(())
        })
        .await
    }
}

impl ElbService {
    /// Whether a listener rule, a listener's default rule or a listener exists.
    pub async fn traffic_rule_exists(&self, arn: &str) -> Result<bool> {
        crate::rules::traffic_rule_exists(self, arn).await
    }

    /// Sets the forward weights of a rule (or default rule, or listener); `true` when
    /// something changed.
    pub async fn set_forward(&self, arn: &str, forward: &[(String, i64)]) -> Result<bool> {
        crate::rules::set_forward(self, arn, forward).await
    }
}
