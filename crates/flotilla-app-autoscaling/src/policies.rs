//! Scaling policies: PutScalingPolicy, DescribeScalingPolicies, DeleteScalingPolicy.
//!
//! A **target tracking** policy creates and owns its CloudWatch alarms, as AWS does:
//! `TargetTracking-RESOURCE-AlarmHigh-UUID` (the metric above the target for 3 of 3
//! periods) and, unless scale-in is disabled, `TargetTracking-RESOURCE-AlarmLow-UUID`
//! (under 90% of the target for 15 of 15 periods), each with the policy ARN as its
//! action. Periods are a minute, or what the server was told
//! (`FLOTILLA_TARGET_TRACKING_PERIOD_SECONDS`). Replacing the policy keeps its ARN and
//! alarm names and puts the alarms again; deleting it deletes them.
//!
//! The metric: `ECSServiceAverageCPUUtilization` / `…MemoryUtilization` (AWS/ECS,
//! Average, by ClusterName and ServiceName), `ALBRequestCountPerTarget` (AWS/
//! ApplicationELB RequestCountPerTarget, Sum, by the LoadBalancer and TargetGroup its
//! `ResourceLabel` names), or a customized metric: `MetricName`, `Namespace`,
//! `Dimensions`, `Statistic` (and `Unit`), or `Metrics` holding `MetricStat` queries
//! (no metric math), e.g. an SQS queue's `ApproximateNumberOfMessagesVisible`.
//!
//! A **step scaling** policy is run by a user's alarm naming its ARN; its step
//! adjustments must cover the breach without gaps or overlaps, as AWS checks.

use crate::decide::{self, AdjustmentType, StepAdjustment};
use crate::error::{Result, ScalingError};
use crate::model::{
    DIMENSION, TargetKey, check_cooldown, check_name, check_namespace, decode_token, encode_token, epoch, filters,
    max_results, policy_arn, required, target_key,
};
use crate::store::{AlarmOp, PolicyRow};
use crate::{AlarmError, AppAutoScalingService, Empty};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Policies a scalable target may have (AWS's quota).
pub const MAX_POLICIES: i64 = 50;
const MAX_PAGE: i64 = 10;
/// ECS's default cooldowns (seconds), for both directions and for step scaling.
pub const DEFAULT_COOLDOWN: i64 = 300;
/// AlarmHigh: 3 of 3 periods above the target.
pub const HIGH_PERIODS: i64 = 3;
/// AlarmLow: 15 of 15 periods under 90% of the target.
pub const LOW_PERIODS: i64 = 15;
pub const LOW_FRACTION: f64 = 0.9;

pub const TARGET_TRACKING: &str = "TargetTrackingScaling";
pub const STEP_SCALING: &str = "StepScaling";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MetricWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Vec<DimensionWire>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStatWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<MetricWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MetricQueryWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStatWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PredefinedMetricWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predefined_metric_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CustomizedMetricWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Vec<DimensionWire>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<MetricQueryWire>>,
}

/// `TargetTrackingScalingPolicyConfiguration`, as given and answered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TrackingWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predefined_metric_specification: Option<PredefinedMetricWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customized_metric_specification: Option<CustomizedMetricWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_out_cooldown: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_in_cooldown: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_scale_in: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct StepAdjustmentWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_lower_bound: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_upper_bound: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_adjustment: Option<i64>,
}

/// `StepScalingPolicyConfiguration`, as given and answered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct StepWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_adjustments: Option<Vec<StepAdjustmentWire>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_adjustment_magnitude: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_aggregation_type: Option<String>,
}

/// A target tracking policy as decisions read it (cooldowns defaulted).
pub fn tracking_of(w: &TrackingWire) -> decide::Tracking {
    decide::Tracking {
        target: w.target_value.unwrap_or(f64::NAN),
        scale_out_cooldown_s: w.scale_out_cooldown.unwrap_or(DEFAULT_COOLDOWN),
        scale_in_cooldown_s: w.scale_in_cooldown.unwrap_or(DEFAULT_COOLDOWN),
        disable_scale_in: w.disable_scale_in.unwrap_or(false),
    }
}

/// A step scaling policy as decisions read it (checked when put).
pub fn step_of(w: &StepWire) -> Result<decide::Step> {
    let kind = w
        .adjustment_type
        .as_deref()
        .and_then(AdjustmentType::parse)
        .ok_or_else(|| ScalingError::corrupt("a step scaling policy", "no adjustment type"))?;
    Ok(decide::Step {
        adjustment_type: kind,
        steps: w
            .step_adjustments
            .iter()
            .flatten()
            .map(|s| StepAdjustment {
                lower: s.metric_interval_lower_bound,
                upper: s.metric_interval_upper_bound,
                adjustment: s.scaling_adjustment.unwrap_or(0),
            })
            .collect(),
        min_adjustment_magnitude: w.min_adjustment_magnitude,
        cooldown_s: w.cooldown.unwrap_or(DEFAULT_COOLDOWN),
    })
}

/// Checks a step scaling configuration as AWS does.
fn check_step(w: &StepWire) -> Result<()> {
    let kind = required(w.adjustment_type.as_deref(), "StepScalingPolicyConfiguration.AdjustmentType")?;
    let kind = AdjustmentType::parse(kind).ok_or_else(|| {
        ScalingError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'stepScalingPolicyConfiguration.adjustmentType' failed \
             to satisfy constraint: Member must satisfy enum value set: [ChangeInCapacity, PercentChangeInCapacity, \
             ExactCapacity]"
        ))
    })?;
    if let Some(m) = w.min_adjustment_magnitude {
        if kind != AdjustmentType::PercentChangeInCapacity {
            return Err(ScalingError::validation(
                "MinAdjustmentMagnitude is only supported with the PercentChangeInCapacity adjustment type.",
            ));
        }
        if m < 1 {
            return Err(ScalingError::validation("MinAdjustmentMagnitude must be at least 1."));
        }
    }
    check_cooldown(w.cooldown, "Cooldown")?;
    if let Some(a) = &w.metric_aggregation_type
        && !matches!(a.as_str(), "Average" | "Minimum" | "Maximum")
    {
        return Err(ScalingError::validation(format!(
            "1 validation error detected: Value '{a}' at 'stepScalingPolicyConfiguration.metricAggregationType' \
             failed to satisfy constraint: Member must satisfy enum value set: [Average, Minimum, Maximum]"
        )));
    }
    let steps = w.step_adjustments.as_deref().unwrap_or_default();
    if steps.is_empty() {
        return Err(ScalingError::validation("StepAdjustments must contain at least one step adjustment."));
    }
    let mut intervals = Vec::with_capacity(steps.len());
    for s in steps {
        let adjustment = required(s.scaling_adjustment, "StepAdjustments.ScalingAdjustment")?;
        if kind == AdjustmentType::ExactCapacity && adjustment < 0 {
            return Err(ScalingError::validation("ScalingAdjustment cannot be negative with ExactCapacity."));
        }
        let (lower, upper) = (s.metric_interval_lower_bound, s.metric_interval_upper_bound);
        if lower.is_some_and(|l| !l.is_finite()) || upper.is_some_and(|u| !u.is_finite()) {
            return Err(ScalingError::validation("Step adjustment bounds must be finite numbers."));
        }
        match (lower, upper) {
            (None, None) => {
                return Err(ScalingError::validation(
                    "The upper and lower bounds of a step adjustment cannot both be null.",
                ));
            }
            (Some(l), Some(u)) if l >= u => {
                return Err(ScalingError::validation(format!(
                    "A step adjustment's lower bound ({l}) must be less than its upper bound ({u})."
                )));
            }
            _ => {}
        }
        intervals.push((lower, upper));
    }
    // Sorted by lower bound (null first), the intervals must meet end to end.
    intervals.sort_by(|a, b| match (a.0, b.0) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, _) => std::cmp::Ordering::Less,
        (_, None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => x.total_cmp(&y),
    });
    if intervals.iter().filter(|i| i.0.is_none()).count() > 1 {
        return Err(ScalingError::validation("Only one step adjustment can have a null lower bound."));
    }
    if intervals.iter().filter(|i| i.1.is_none()).count() > 1 {
        return Err(ScalingError::validation("Only one step adjustment can have a null upper bound."));
    }
    for pair in intervals.windows(2) {
        if pair[0].1 != pair[1].0 {
            return Err(ScalingError::validation(
                "The step adjustments' intervals cannot overlap or have gaps: each lower bound must be the previous \
                 upper bound.",
            ));
        }
    }
    let first = intervals[0];
    let last = intervals[intervals.len() - 1];
    if first.0.is_some_and(|l| l < 0.0) {
        return Err(ScalingError::validation(
            "A step adjustment has a negative lower bound, so one must have a null lower bound.",
        ));
    }
    if last.1.is_some_and(|u| u > 0.0) {
        return Err(ScalingError::validation(
            "A step adjustment has a positive upper bound, so one must have a null upper bound.",
        ));
    }
    Ok(())
}

/// The metric a target tracking policy's alarms watch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Watched {
    /// A `MetricName` alarm: namespace, name, dimensions, statistic, unit.
    Single {
        namespace: String,
        metric_name: String,
        dimensions: Vec<(String, String)>,
        stat: String,
        unit: Option<String>,
    },
    /// A `Metrics` alarm: the queries, as PutMetricAlarm takes them without periods.
    Queries(Vec<MetricQueryWire>),
}

/// The predefined metrics served, by type.
fn predefined(p: &PredefinedMetricWire, key: &TargetKey) -> Result<Watched> {
    let kind = required(p.predefined_metric_type.as_deref(), "PredefinedMetricSpecification.PredefinedMetricType")?;
    let (cluster, service) = key.service();
    let ecs = |metric: &str| Watched::Single {
        namespace: "AWS/ECS".into(),
        metric_name: metric.into(),
        dimensions: vec![("ClusterName".into(), cluster.clone()), ("ServiceName".into(), service.clone())],
        stat: "Average".into(),
        unit: None,
    };
    if kind != "ALBRequestCountPerTarget" && p.resource_label.is_some() {
        return Err(ScalingError::validation(format!(
            "A ResourceLabel can only be given with the ALBRequestCountPerTarget predefined metric type, not {kind}."
        )));
    }
    match kind {
        "ECSServiceAverageCPUUtilization" => Ok(ecs("CPUUtilization")),
        "ECSServiceAverageMemoryUtilization" => Ok(ecs("MemoryUtilization")),
        "ALBRequestCountPerTarget" => {
            let label = p.resource_label.as_deref().ok_or_else(|| {
                ScalingError::validation("A ResourceLabel is required with the ALBRequestCountPerTarget metric type.")
            })?;
            let parts: Vec<&str> = label.split('/').collect();
            match parts[..] {
                ["app", lb, lb_id, "targetgroup", tg, tg_id]
                    if [lb, lb_id, tg, tg_id].iter().all(|p| !p.is_empty()) =>
                {
                    Ok(Watched::Single {
                        namespace: "AWS/ApplicationELB".into(),
                        metric_name: "RequestCountPerTarget".into(),
                        dimensions: vec![
                            ("LoadBalancer".into(), format!("app/{lb}/{lb_id}")),
                            ("TargetGroup".into(), format!("targetgroup/{tg}/{tg_id}")),
                        ],
                        stat: "Sum".into(),
                        unit: None,
                    })
                }
                _ => Err(ScalingError::validation(format!(
                    "Invalid ResourceLabel {label}: it is app/LOAD-BALANCER-NAME/LOAD-BALANCER-ID/targetgroup/\
                     TARGET-GROUP-NAME/TARGET-GROUP-ID."
                ))),
            }
        }
        "ECSServiceAverageCPUUtilizationHighResolution" | "ECSServiceAverageMemoryUtilizationHighResolution" => {
            Err(ScalingError::validation(format!(
                "The predefined metric type {kind} is not supported on this endpoint: ECS utilization is recorded \
                 at one-minute resolution. Use ECSServiceAverageCPUUtilization or ECSServiceAverageMemoryUtilization."
            )))
        }
        other => Err(ScalingError::validation(format!(
            "The predefined metric type {other} is not supported for the scalable dimension {DIMENSION}."
        ))),
    }
}

fn dimensions_of(dims: Option<&Vec<DimensionWire>>, at: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for d in dims.into_iter().flatten() {
        let name = required(d.name.clone(), &format!("{at}.Name"))?;
        let value = required(d.value.clone(), &format!("{at}.Value"))?;
        out.push((name, value));
    }
    Ok(out)
}

fn customized(c: &CustomizedMetricWire) -> Result<Watched> {
    let simple_given =
        c.metric_name.is_some() || c.namespace.is_some() || c.statistic.is_some() || c.dimensions.is_some();
    match (&c.metrics, simple_given) {
        (Some(_), true) => Err(ScalingError::validation(
            "A customized metric specification takes either Metrics or MetricName, Namespace, Dimensions and \
             Statistic, not both.",
        )),
        (None, _) => {
            let metric_name = required(c.metric_name.clone(), "CustomizedMetricSpecification.MetricName")?;
            let namespace = required(c.namespace.clone(), "CustomizedMetricSpecification.Namespace")?;
            let stat = required(c.statistic.clone(), "CustomizedMetricSpecification.Statistic")?;
            if !matches!(stat.as_str(), "Average" | "Minimum" | "Maximum" | "SampleCount" | "Sum") {
                return Err(ScalingError::validation(format!(
                    "1 validation error detected: Value '{stat}' at \
                     'targetTrackingScalingPolicyConfiguration.customizedMetricSpecification.statistic' failed to \
                     satisfy constraint: Member must satisfy enum value set: [Average, Minimum, Maximum, \
                     SampleCount, Sum]"
                )));
            }
            let dimensions = dimensions_of(c.dimensions.as_ref(), "CustomizedMetricSpecification.Dimensions")?;
            Ok(Watched::Single { namespace, metric_name, dimensions, stat, unit: c.unit.clone() })
        }
        (Some(queries), false) => {
            if queries.is_empty() {
                return Err(ScalingError::validation("Metrics must hold at least one metric data query."));
            }
            for (i, q) in queries.iter().enumerate() {
                let at = format!("CustomizedMetricSpecification.Metrics.{}", i + 1);
                required(q.id.as_deref(), &format!("{at}.Id"))?;
                if q.expression.is_some() {
                    return Err(ScalingError::validation(format!(
                        "{at}.Expression: metric math is not supported on this endpoint; give a MetricStat."
                    )));
                }
                let stat = required(q.metric_stat.as_ref(), &format!("{at}.MetricStat"))?;
                let metric = required(stat.metric.as_ref(), &format!("{at}.MetricStat.Metric"))?;
                required(metric.metric_name.as_deref(), &format!("{at}.MetricStat.Metric.MetricName"))?;
                required(metric.namespace.as_deref(), &format!("{at}.MetricStat.Metric.Namespace"))?;
                required(stat.stat.as_deref(), &format!("{at}.MetricStat.Stat"))?;
                dimensions_of(metric.dimensions.as_ref(), &format!("{at}.MetricStat.Metric.Dimensions"))?;
            }
            if queries.iter().filter(|q| q.return_data.unwrap_or(true)).count() != 1 {
                return Err(ScalingError::validation(
                    "Exactly one of the Metrics must return data (ReturnData true); it is the metric tracked.",
                ));
            }
            Ok(Watched::Queries(queries.clone()))
        }
    }
}

/// Checks a target tracking configuration; the metric its alarms watch.
fn check_tracking(w: &TrackingWire, key: &TargetKey) -> Result<Watched> {
    let target = required(w.target_value, "TargetTrackingScalingPolicyConfiguration.TargetValue")?;
    if !target.is_finite() || target <= 0.0 {
        return Err(ScalingError::validation(format!("TargetValue must be a number above 0; {target} was given.")));
    }
    check_cooldown(w.scale_out_cooldown, "ScaleOutCooldown")?;
    check_cooldown(w.scale_in_cooldown, "ScaleInCooldown")?;
    match (&w.predefined_metric_specification, &w.customized_metric_specification) {
        (Some(p), None) => predefined(p, key),
        (None, Some(c)) => customized(c),
        _ => Err(ScalingError::validation(
            "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification must be given.",
        )),
    }
}

/// Which of a target tracking policy's alarms a name is.
pub(crate) fn alarm_side(name: &str) -> Option<decide::TrackingAlarm> {
    if name.contains("-AlarmHigh-") {
        Some(decide::TrackingAlarm::High)
    } else if name.contains("-AlarmLow-") {
        Some(decide::TrackingAlarm::Low)
    } else {
        None
    }
}

/// The PutMetricAlarm request of one of a policy's alarms.
fn alarm_request(
    name: &str,
    arn: &str,
    watched: &Watched,
    period: i64,
    periods: i64,
    threshold: f64,
    comparison: &str,
) -> Value {
    let mut request = json!({
        "AlarmName": name,
        "AlarmDescription": format!("DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {arn}."),
        "ActionsEnabled": true,
        "AlarmActions": [arn],
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": periods,
        "Threshold": threshold,
        "ComparisonOperator": comparison,
    });
    match watched {
        Watched::Single { namespace, metric_name, dimensions, stat, unit } => {
            request["Namespace"] = json!(namespace);
            request["MetricName"] = json!(metric_name);
            request["Statistic"] = json!(stat);
            request["Dimensions"] =
                Value::Array(dimensions.iter().map(|(n, v)| json!({"Name": n, "Value": v})).collect());
            request["Period"] = json!(period);
            if let Some(u) = unit {
                request["Unit"] = json!(u);
            }
        }
        Watched::Queries(queries) => {
            let queries: Vec<Value> = queries
                .iter()
                .map(|q| {
                    let mut v = serde_json::to_value(q).unwrap_or(Value::Null);
                    if let Some(stat) = v.get_mut("MetricStat") {
                        stat["Period"] = json!(period);
                    }
                    v
                })
                .collect();
            request["Metrics"] = Value::Array(queries);
        }
    }
    request
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutInput {
    policy_name: Option<String>,
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    policy_type: Option<String>,
    step_scaling_policy_configuration: Option<StepWire>,
    target_tracking_scaling_policy_configuration: Option<TrackingWire>,
    predictive_scaling_policy_configuration: Option<Value>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AlarmOut {
    alarm_name: String,
    #[serde(rename = "AlarmARN")]
    alarm_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutOutput {
    #[serde(rename = "PolicyARN")]
    policy_arn: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alarms: Vec<AlarmOut>,
}

fn alarms_out(svc: &AppAutoScalingService, names: &[String]) -> Vec<AlarmOut> {
    names
        .iter()
        .map(|n| AlarmOut {
            alarm_name: n.clone(),
            alarm_arn: svc.account.arn("cloudwatch", &format!("alarm:{n}")).to_string(),
        })
        .collect()
}

/// The policy as checked: its type and configuration document, and for target
/// tracking the alarms it wants.
struct Checked {
    policy_type: &'static str,
    config: Value,
    tracking: Option<(Watched, TrackingWire)>,
}

fn check_put(input: &PutInput, key: &TargetKey) -> Result<Checked> {
    let kind = input.policy_type.as_deref().unwrap_or(STEP_SCALING);
    match kind {
        STEP_SCALING => {
            if input.target_tracking_scaling_policy_configuration.is_some() {
                return Err(ScalingError::validation(
                    "TargetTrackingScalingPolicyConfiguration cannot be given for a StepScaling policy.",
                ));
            }
            let step = required(input.step_scaling_policy_configuration.as_ref(), "StepScalingPolicyConfiguration")?;
            check_step(step)?;
            let config = serde_json::to_value(step).map_err(|e| ScalingError::corrupt("a policy", e))?;
            Ok(Checked { policy_type: STEP_SCALING, config, tracking: None })
        }
        TARGET_TRACKING => {
            if input.step_scaling_policy_configuration.is_some() {
                return Err(ScalingError::validation(
                    "StepScalingPolicyConfiguration cannot be given for a TargetTrackingScaling policy.",
                ));
            }
            let tracking = required(
                input.target_tracking_scaling_policy_configuration.as_ref(),
                "TargetTrackingScalingPolicyConfiguration",
            )?;
            let watched = check_tracking(tracking, key)?;
            let config = serde_json::to_value(tracking).map_err(|e| ScalingError::corrupt("a policy", e))?;
            Ok(Checked { policy_type: TARGET_TRACKING, config, tracking: Some((watched, tracking.clone())) })
        }
        "PredictiveScaling" => Err(ScalingError::validation(
            "PredictiveScaling policies are not supported on this endpoint: use TargetTrackingScaling or StepScaling.",
        )),
        other => Err(ScalingError::validation(format!(
            "1 validation error detected: Value '{other}' at 'policyType' failed to satisfy constraint: Member must \
             satisfy enum value set: [StepScaling, TargetTrackingScaling, PredictiveScaling]"
        ))),
    }
}

pub(crate) async fn put(svc: &AppAutoScalingService, input: PutInput) -> Result<PutOutput> {
    let key = target_key(
        input.service_namespace.as_deref(),
        input.resource_id.as_deref(),
        input.scalable_dimension.as_deref(),
    )?;
    let name = required(input.policy_name.clone(), "PolicyName")?;
    check_name(&name, "PolicyName", 256)?;
    if input.predictive_scaling_policy_configuration.is_some()
        && input.policy_type.as_deref() != Some("PredictiveScaling")
    {
        return Err(ScalingError::validation(
            "PredictiveScalingPolicyConfiguration can only be given for a PredictiveScaling policy.",
        ));
    }
    let checked = check_put(&input, &key)?;
    let guard = svc.target_lock(&key).await?;
    let result = put_locked(svc, &key, &name, checked).await;
    guard.release().await;
    let (stored, retired) = result?;
    svc.delete_alarms(&retired).await;
    Ok(PutOutput {
        policy_arn: policy_arn(&svc.account, &stored.policy_id, &key, &name),
        alarms: alarms_out(svc, &stored.alarms),
    })
}

/// Puts the policy (and its alarms) with the target's lock held; the stored policy
/// and the alarms its previous version owned that are now to be deleted.
async fn put_locked(
    svc: &AppAutoScalingService,
    key: &TargetKey,
    name: &str,
    checked: Checked,
) -> Result<(PolicyRow, Vec<String>)> {
    if svc.store.target(key).await?.is_none() {
        return Err(ScalingError::ObjectNotFound(format!("No scalable target registered for {}", key.describe())));
    }
    let now = svc.store.now_ms().await?;
    let existing = svc.store.policy(key, name).await?;
    let policy_id = existing.as_ref().map_or_else(|| uuid::Uuid::new_v4().to_string(), |p| p.policy_id.clone());
    let arn = policy_arn(&svc.account, &policy_id, key, name);
    let old_alarms = existing.as_ref().map(|p| p.alarms.clone()).unwrap_or_default();

    let mut alarms = Vec::new();
    let mut new_names: Vec<String> = Vec::new();
    if let Some((watched, tracking)) = &checked.tracking {
        let target = tracking.target_value.unwrap_or_default();
        let reuse = |side| old_alarms.iter().find(|a| alarm_side(a) == Some(side)).cloned();
        let fresh = |kind: &str| format!("TargetTracking-{}-{kind}-{}", key.resource_id, uuid::Uuid::new_v4());
        let high = reuse(decide::TrackingAlarm::High).unwrap_or_else(|| fresh("AlarmHigh"));
        let mut wanted = vec![(high, HIGH_PERIODS, target, "GreaterThanThreshold")];
        if !tracking.disable_scale_in.unwrap_or(false) {
            let low = reuse(decide::TrackingAlarm::Low).unwrap_or_else(|| fresh("AlarmLow"));
            wanted.push((low, LOW_PERIODS, target * LOW_FRACTION, "LessThanThreshold"));
        }
        new_names = wanted.iter().map(|w| w.0.clone()).filter(|n| !old_alarms.contains(n)).collect();
        svc.store.add_alarm_work(&new_names, AlarmOp::Pending, now).await?;
        for (alarm, periods, threshold, comparison) in &wanted {
            let request = alarm_request(alarm, &arn, watched, svc.period_seconds, *periods, *threshold, comparison);
            if let Err(e) = svc.alarms.put_alarm(&request).await {
                // What this call created goes again (or, failing that, later).
                svc.store.add_alarm_work(&new_names, AlarmOp::Delete, now).await?;
                svc.delete_alarms(&new_names).await;
                return Err(match e {
                    AlarmError::Refused(m) => ScalingError::validation(format!("The policy's alarm was refused: {m}")),
                    AlarmError::Failed(m) => {
                        ScalingError::FailedResourceAccess(format!("Creating the policy's alarm {alarm} failed: {m}"))
                    }
                });
            }
            alarms.push(alarm.clone());
        }
    }
    let retired: Vec<String> = old_alarms.iter().filter(|a| !alarms.contains(a)).cloned().collect();
    let row = PolicyRow {
        key: key.clone(),
        name: name.to_string(),
        policy_id,
        policy_type: checked.policy_type.to_string(),
        config: checked.config,
        created_at: now,
        alarms,
    };
    match svc.store.put_policy(&row, &retired, MAX_POLICIES, now).await {
        Ok(stored) => Ok((stored, retired)),
        Err(e) => {
            if let Err(w) = svc.store.add_alarm_work(&new_names, AlarmOp::Delete, now).await {
                tracing::warn!(error = %w, "recording alarms to delete failed; the housekeeping pass deletes them");
            }
            svc.delete_alarms(&new_names).await;
            Err(e)
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeInput {
    policy_names: Option<Vec<String>>,
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PolicyOut {
    #[serde(rename = "PolicyARN")]
    policy_arn: String,
    policy_name: String,
    service_namespace: String,
    resource_id: String,
    scalable_dimension: String,
    policy_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_scaling_policy_configuration: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_tracking_scaling_policy_configuration: Option<Value>,
    alarms: Vec<AlarmOut>,
    creation_time: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeOutput {
    scaling_policies: Vec<PolicyOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe(svc: &AppAutoScalingService, input: DescribeInput) -> Result<DescribeOutput> {
    let namespace = check_namespace(input.service_namespace.as_deref())?;
    let (resource_id, dimension) = filters(input.resource_id.as_deref(), input.scalable_dimension.as_deref(), true)?;
    let names = input.policy_names.unwrap_or_default();
    if names.len() > 50 {
        return Err(ScalingError::validation("PolicyNames may name at most 50 policies."));
    }
    let limit = max_results(input.max_results, MAX_PAGE)?;
    let after = decode_token(input.next_token.as_deref(), 3)?;
    let after_ref = after.as_ref().map(|a| (a[0].as_str(), a[1].as_str(), a[2].as_str()));
    let mut rows = svc
        .store
        .policies(&namespace, resource_id.as_deref(), dimension.as_deref(), &names, after_ref, limit + 1)
        .await?;
    let next_token = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|p| encode_token(&[&p.key.resource_id, &p.key.dimension, &p.name]))
    } else {
        None
    };
    let mut scaling_policies = Vec::with_capacity(rows.len());
    for p in rows {
        let step = p.policy_type == STEP_SCALING;
        let arn = policy_arn(&svc.account, &p.policy_id, &p.key, &p.name);
        // A step policy's alarms are the user's: those whose actions name it.
        let alarms = if step {
            match svc.alarms.alarms_acting_on(&arn).await {
                Ok(names) => names,
                Err(e) => {
                    tracing::warn!(policy = %p.name, error = ?e, "listing the alarms that run a step policy failed");
                    Vec::new()
                }
            }
        } else {
            p.alarms.clone()
        };
        scaling_policies.push(PolicyOut {
            policy_arn: arn,
            alarms: alarms_out(svc, &alarms),
            step_scaling_policy_configuration: step.then(|| p.config.clone()),
            target_tracking_scaling_policy_configuration: (!step).then(|| p.config.clone()),
            policy_name: p.name,
            service_namespace: p.key.namespace,
            resource_id: p.key.resource_id,
            scalable_dimension: p.key.dimension,
            policy_type: p.policy_type,
            creation_time: epoch(p.created_at),
        });
    }
    Ok(DescribeOutput { scaling_policies, next_token })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteInput {
    policy_name: Option<String>,
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
}

pub(crate) async fn delete(svc: &AppAutoScalingService, input: DeleteInput) -> Result<Empty> {
    let key = target_key(
        input.service_namespace.as_deref(),
        input.resource_id.as_deref(),
        input.scalable_dimension.as_deref(),
    )?;
    let name = required(input.policy_name, "PolicyName")?;
    let guard = svc.target_lock(&key).await?;
    let result = async {
        let now = svc.store.now_ms().await?;
        svc.store.delete_policy(&key, &name, now).await?.ok_or_else(|| {
            ScalingError::ObjectNotFound(format!("No scaling policy found for {}, policy name: {name}", key.describe()))
        })
    }
    .await;
    guard.release().await;
    svc.delete_alarms(&result?).await;
    Ok(Empty {})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(list: &[(Option<f64>, Option<f64>)]) -> StepWire {
        StepWire {
            adjustment_type: Some("ChangeInCapacity".into()),
            step_adjustments: Some(
                list.iter()
                    .map(|(l, u)| StepAdjustmentWire {
                        metric_interval_lower_bound: *l,
                        metric_interval_upper_bound: *u,
                        scaling_adjustment: Some(1),
                    })
                    .collect(),
            ),
            ..StepWire::default()
        }
    }

    #[test]
    fn step_adjustments_must_meet_end_to_end() {
        let ok = [
            vec![(Some(0.0), None)],
            vec![(None, Some(0.0))],
            vec![(Some(0.0), Some(10.0)), (Some(10.0), None)],
            vec![(None, Some(-10.0)), (Some(-10.0), Some(0.0))],
            vec![(Some(10.0), None), (Some(0.0), Some(10.0))],
        ];
        for s in ok {
            assert!(check_step(&steps(&s)).is_ok(), "{s:?}");
        }
        let bad = [
            vec![(None, None)],
            vec![(Some(0.0), Some(10.0))], // positive upper without a null one
            vec![(Some(-5.0), None)],      // negative lower without a null one
            vec![(Some(0.0), Some(10.0)), (Some(20.0), None)], // a gap
            vec![(Some(0.0), Some(10.0)), (Some(5.0), None)], // an overlap
            vec![(Some(0.0), None), (Some(10.0), None)], // two null uppers
            vec![(Some(10.0), Some(0.0))],
        ];
        for s in bad {
            assert!(matches!(check_step(&steps(&s)), Err(ScalingError::Validation(_))), "{s:?}");
        }
        let mut w = steps(&[(Some(0.0), None)]);
        w.min_adjustment_magnitude = Some(2);
        assert!(check_step(&w).is_err(), "MinAdjustmentMagnitude needs PercentChangeInCapacity");
        w.adjustment_type = Some("PercentChangeInCapacity".into());
        assert!(check_step(&w).is_ok());
        w.adjustment_type = Some("Nope".into());
        assert!(check_step(&w).is_err());
    }

    #[test]
    fn predefined_metrics_name_aws_metrics_and_dimensions() {
        let key = TargetKey::ecs("prod", "web");
        let p = |kind: &str, label: Option<&str>| PredefinedMetricWire {
            predefined_metric_type: Some(kind.into()),
            resource_label: label.map(str::to_string),
        };
        let Watched::Single { namespace, metric_name, dimensions, stat, .. } =
            predefined(&p("ECSServiceAverageCPUUtilization", None), &key).unwrap()
        else {
            panic!()
        };
        assert_eq!((namespace.as_str(), metric_name.as_str(), stat.as_str()), ("AWS/ECS", "CPUUtilization", "Average"));
        assert_eq!(dimensions, [("ClusterName".into(), "prod".into()), ("ServiceName".into(), "web".into())]);
        let Watched::Single { metric_name, dimensions, stat, .. } =
            predefined(&p("ALBRequestCountPerTarget", Some("app/web-lb/0123/targetgroup/blue/4567")), &key).unwrap()
        else {
            panic!()
        };
        assert_eq!((metric_name.as_str(), stat.as_str()), ("RequestCountPerTarget", "Sum"));
        assert_eq!(
            dimensions,
            [("LoadBalancer".into(), "app/web-lb/0123".into()), ("TargetGroup".into(), "targetgroup/blue/4567".into())]
        );
        for (kind, label) in [
            ("ALBRequestCountPerTarget", None),
            ("ALBRequestCountPerTarget", Some("targetgroup/blue/4567")),
            ("ECSServiceAverageCPUUtilization", Some("app/a/1/targetgroup/b/2")),
            ("DynamoDBReadCapacityUtilization", None),
            ("ECSServiceAverageCPUUtilizationHighResolution", None),
        ] {
            assert!(matches!(predefined(&p(kind, label), &key), Err(ScalingError::Validation(_))), "{kind} {label:?}");
        }
    }

    #[test]
    fn target_tracking_alarms_are_aws_shaped() {
        let watched = Watched::Single {
            namespace: "AWS/ECS".into(),
            metric_name: "CPUUtilization".into(),
            dimensions: vec![("ClusterName".into(), "default".into()), ("ServiceName".into(), "web".into())],
            stat: "Average".into(),
            unit: None,
        };
        let r = alarm_request(
            "TargetTracking-service/default/web-AlarmLow-1",
            "arn:p",
            &watched,
            60,
            15,
            45.0,
            "LessThanThreshold",
        );
        assert_eq!(r["EvaluationPeriods"], 15);
        assert_eq!(r["DatapointsToAlarm"], 15);
        assert_eq!(r["Threshold"], 45.0);
        assert_eq!(r["AlarmActions"], json!(["arn:p"]));
        assert_eq!(r["Dimensions"][1], json!({"Name": "ServiceName", "Value": "web"}));
        assert!(r["AlarmDescription"].as_str().unwrap().starts_with("DO NOT EDIT OR DELETE."));
        let queries = Watched::Queries(vec![MetricQueryWire {
            id: Some("m1".into()),
            metric_stat: Some(MetricStatWire {
                metric: Some(MetricWire {
                    metric_name: Some("Depth".into()),
                    namespace: Some("App".into()),
                    dimensions: None,
                }),
                stat: Some("Sum".into()),
                unit: None,
            }),
            ..MetricQueryWire::default()
        }]);
        let r = alarm_request("a", "arn:p", &queries, 10, 3, 5.0, "GreaterThanThreshold");
        assert_eq!(r["Metrics"][0]["MetricStat"]["Period"], 10);
        assert!(r.get("Period").is_none() && r.get("MetricName").is_none());
        assert_eq!(alarm_side("TargetTracking-service/a/b-AlarmHigh-x"), Some(decide::TrackingAlarm::High));
        assert_eq!(alarm_side("TargetTracking-service/a/b-AlarmLow-x"), Some(decide::TrackingAlarm::Low));
        assert_eq!(alarm_side("mine"), None);
    }
}
