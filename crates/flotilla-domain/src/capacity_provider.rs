//! Capacity providers backed by Auto Scaling groups, their rules, and the pure
//! decisions of managed scaling: how many instances a provider needs
//! (`CapacityProviderReservation`, as ECS computes it) and which of its instances are
//! protected from scale-in.

use crate::error::{Validated, ValidationError};
use serde::{Deserialize, Serialize};

/// ECS's `ManagedScaling`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedScaling {
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    pub target_capacity: i64,
    pub minimum_scaling_step_size: i64,
    pub maximum_scaling_step_size: i64,
    pub instance_warmup_period: i64,
}

impl Default for ManagedScaling {
    /// ECS's defaults: enabled, target 100%, steps of 1 to 10,000, 300 s warm-up.
    fn default() -> Self {
        Self {
            status: "ENABLED".into(),
            target_capacity: 100,
            minimum_scaling_step_size: 1,
            maximum_scaling_step_size: 10_000,
            instance_warmup_period: 300,
        }
    }
}

impl ManagedScaling {
    pub fn enabled(&self) -> bool {
        self.status == "ENABLED"
    }
}

/// ECS's `AutoScalingGroupProvider`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingGroupProvider {
    pub auto_scaling_group_arn: String,
    pub managed_scaling: ManagedScaling,
    /// `ENABLED` or `DISABLED`.
    pub managed_termination_protection: String,
    /// `ENABLED` or `DISABLED`.
    pub managed_draining: String,
}

/// A stored capacity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProvider {
    pub name: String,
    /// `ACTIVE` or `INACTIVE` (deleted).
    pub status: String,
    pub auto_scaling_group_provider: AutoScalingGroupProvider,
    /// `CREATE_COMPLETE`, `UPDATE_COMPLETE`, `DELETE_COMPLETE`.
    pub update_status: String,
    pub version: i64,
}

/// A name ECS accepts for a capacity provider: 1–255 letters, digits, `-` and `_`,
/// not starting with `aws`, `ecs` or `fargate` (any case).
pub fn validate_name(name: &str) -> Validated {
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if name.is_empty() || name.len() > 255 || !ok_chars {
        return Err(ValidationError::invalid_parameter(format!(
            "The capacity provider name '{name}' is not valid: use 1 to 255 letters, numbers, hyphens and underscores."
        )));
    }
    let lower = name.to_ascii_lowercase();
    if ["aws", "ecs", "fargate"].iter().any(|p| lower.starts_with(p)) {
        return Err(ValidationError::invalid_parameter(
            "The capacity provider name cannot be prefixed with \"aws\", \"ecs\", or \"fargate\".",
        ));
    }
    Ok(())
}

/// Checks a provider's settings as ECS does.
pub fn validate_provider(p: &AutoScalingGroupProvider) -> Validated {
    let invalid = |m: String| Err(ValidationError::invalid_parameter(m));
    let s = &p.managed_scaling;
    for (field, value) in [("status", &s.status), ("managedTerminationProtection", &p.managed_termination_protection)] {
        if value != "ENABLED" && value != "DISABLED" {
            return invalid(format!("{field} '{value}' is not one of ENABLED, DISABLED"));
        }
    }
    if p.managed_draining != "ENABLED" && p.managed_draining != "DISABLED" {
        return invalid(format!("managedDraining '{}' is not one of ENABLED, DISABLED", p.managed_draining));
    }
    if !(1..=100).contains(&s.target_capacity) {
        return invalid(format!("managedScaling.targetCapacity {} must be between 1 and 100", s.target_capacity));
    }
    for (field, v) in [
        ("minimumScalingStepSize", s.minimum_scaling_step_size),
        ("maximumScalingStepSize", s.maximum_scaling_step_size),
    ] {
        if !(1..=10_000).contains(&v) {
            return invalid(format!("managedScaling.{field} {v} must be between 1 and 10000"));
        }
    }
    if s.minimum_scaling_step_size > s.maximum_scaling_step_size {
        return invalid("managedScaling.minimumScalingStepSize cannot exceed maximumScalingStepSize".into());
    }
    if !(0..=10_000).contains(&s.instance_warmup_period) {
        return invalid(format!(
            "managedScaling.instanceWarmupPeriod {} must be between 0 and 10000",
            s.instance_warmup_period
        ));
    }
    if p.managed_termination_protection == "ENABLED" && !s.enabled() {
        return invalid(
            "The managed termination protection setting for the capacity provider is invalid. To enable managed termination protection for a capacity provider, the Auto Scaling group must have instance protection from scale in enabled and managed scaling must be enabled."
                .into(),
        );
    }
    Ok(())
}

/// What managed scaling sees of one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderLoad {
    /// Instances of the group that are running (registered with ECS or starting).
    pub instances: i64,
    /// Of those, instances running at least one task (not counting DAEMON tasks).
    pub busy_instances: i64,
    /// Tasks waiting in PROVISIONING for this provider's capacity.
    pub provisioning_tasks: i64,
    pub min_size: i64,
    pub max_size: i64,
}

/// Managed scaling's decision for one provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalingDecision {
    /// `CapacityProviderReservation`: instances needed over instances running, in percent.
    pub reservation: f64,
    /// The group's desired capacity to set.
    pub desired: i64,
}

/// ECS's managed scaling: M instances are needed (every busy one, plus at least the
/// minimum step when tasks wait for capacity, at most the maximum step at once), N run;
/// the reservation is M / N × 100 (200 when nothing runs and something is needed, 100
/// when nothing runs or is needed), and the group is sized so the reservation meets
/// the target: ⌈M × 100 / target⌉, within the group's bounds.
pub fn managed_scaling(scaling: &ManagedScaling, load: &ProviderLoad) -> ScalingDecision {
    let n = load.instances.max(0);
    let mut m = load.busy_instances.clamp(0, n);
    if load.provisioning_tasks > 0 {
        let step = load.provisioning_tasks.clamp(scaling.minimum_scaling_step_size, scaling.maximum_scaling_step_size);
        // Instances that run no task yet can take waiting tasks before new ones are needed.
        let idle = n - m;
        m += if idle > 0 { idle } else { step };
    }
    let reservation = match (m, n) {
        (0, 0) => 100.0,
        (_, 0) => 200.0,
        (m, n) => m as f64 * 100.0 / n as f64,
    };
    let target = scaling.target_capacity.clamp(1, 100);
    let wanted = (m * 100 + target - 1) / target;
    // Scale in at most the maximum step at a time.
    let wanted = wanted.max(n - scaling.maximum_scaling_step_size);
    ScalingDecision { reservation, desired: wanted.clamp(load.min_size.max(0), load.max_size.max(0)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(instances: i64, busy: i64, provisioning: i64) -> ProviderLoad {
        ProviderLoad { instances, busy_instances: busy, provisioning_tasks: provisioning, min_size: 0, max_size: 10 }
    }

    #[test]
    fn managed_scaling_sizes_the_group_to_its_target() {
        let s = ManagedScaling::default();
        let cases = [
            ("nothing at all", load(0, 0, 0), 100.0, 0),
            ("a task waits on an empty group", load(0, 0, 1), 200.0, 1),
            ("three wait: the minimum step is 1, up to the three", load(0, 0, 3), 200.0, 3),
            ("an idle instance takes the waiting task", load(1, 0, 1), 100.0, 1),
            ("all busy, one more waits", load(2, 2, 1), 150.0, 3),
            ("busy ones are kept", load(2, 2, 0), 100.0, 2),
            ("idle ones go", load(3, 1, 0), 100.0 / 3.0, 1),
            ("all idle: to zero", load(2, 0, 0), 0.0, 0),
        ];
        for (name, l, reservation, desired) in cases {
            let d = managed_scaling(&s, &l);
            assert!((d.reservation - reservation).abs() < 1e-9, "{name}: {d:?}");
            assert_eq!(d.desired, desired, "{name}: {d:?}");
        }
        let half = ManagedScaling { target_capacity: 50, ..ManagedScaling::default() };
        assert_eq!(managed_scaling(&half, &load(2, 2, 0)).desired, 4, "50% target keeps spare capacity");
        let bounded = ProviderLoad { max_size: 2, ..load(2, 2, 5) };
        assert_eq!(managed_scaling(&s, &bounded).desired, 2, "never past the group's maximum");
        let slow = ManagedScaling { maximum_scaling_step_size: 1, ..ManagedScaling::default() };
        assert_eq!(managed_scaling(&slow, &load(0, 0, 5)).desired, 1, "at most one step up");
        assert_eq!(managed_scaling(&slow, &load(4, 0, 0)).desired, 3, "at most one step down");
    }

    #[test]
    fn names_and_settings_are_checked() {
        assert!(validate_name("workers").is_ok());
        assert!(validate_name("ECS-workers").is_err());
        assert!(validate_name("bad name").is_err());
        let mut p = AutoScalingGroupProvider {
            auto_scaling_group_arn: "arn".into(),
            managed_scaling: ManagedScaling::default(),
            managed_termination_protection: "ENABLED".into(),
            managed_draining: "ENABLED".into(),
        };
        assert!(validate_provider(&p).is_ok());
        p.managed_scaling.target_capacity = 0;
        assert!(validate_provider(&p).is_err());
        p.managed_scaling = ManagedScaling { status: "DISABLED".into(), ..ManagedScaling::default() };
        assert!(validate_provider(&p).is_err(), "termination protection needs managed scaling");
    }
}
