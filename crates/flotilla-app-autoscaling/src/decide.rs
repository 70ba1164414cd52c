//! The scaling decisions, pure: a policy, what the alarm said, the target's current
//! desired count, bounds, suspended states and cooldown state, and the time in; the new
//! desired count, or why not, out. The I/O around them is `execute.rs`.
//!
//! As Application Auto Scaling documents:
//! - **Target tracking** scales *out* proportionally when its high alarm fires:
//!   `ceil(capacity × metric / target)`; and *in* when its low alarm fires (15 periods
//!   under 90% of the target), by the same proportion, still rounded up, so a scale-in
//!   never leaves the metric above the target (a scale-in that would not remove a task
//!   is "anticipated flapping"). `DisableScaleIn` and the scale-in cooldown block
//!   scale-in.
//! - **Step scaling** picks the step adjustment whose interval holds the breach (metric
//!   minus threshold; above the threshold the lower bound is inclusive and the upper
//!   exclusive, below it the other way round) and changes the capacity by
//!   `ChangeInCapacity`, to `ExactCapacity`, or by `PercentChangeInCapacity` (rounded
//!   toward zero, but at least one task, and at least `MinAdjustmentMagnitude`).
//! - **Cooldowns**: during a scale-out cooldown the capacity the last scale-out started
//!   from is the base, and only a larger scale-out happens (the tasks just added count
//!   as already there); a scale-in waits for the scale-in cooldown since the last
//!   scale-in; a scale-out ends a scale-in cooldown.
//! - Every result is kept within [MinCapacity, MaxCapacity]; suspended dynamic scaling
//!   does nothing.
//! - A **scheduled action** sets new bounds; a desired count outside them is brought to
//!   the nearest bound.

/// A target's minimum and maximum capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: i64,
    pub max: i64,
}

/// `SuspendedState`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Suspended {
    pub dynamic_in: bool,
    pub dynamic_out: bool,
    pub scheduled: bool,
}

/// The target's cooldown state: the last scale-out (when, and the capacity it started
/// from) and when it last scaled in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LastScaling {
    pub scale_out: Option<(i64, i64)>,
    pub scale_in_at: Option<i64>,
}

/// Everything a decision reads besides the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    pub current: i64,
    pub bounds: Bounds,
    pub suspended: Suspended,
    pub last: LastScaling,
    pub now_ms: i64,
}

/// Why a capacity change was wanted but not made (AWS's `NotScaledReason` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotScaledCode {
    AlreadyAtMaxCapacity,
    AlreadyAtMinCapacity,
    AlreadyAtDesiredCapacity,
    AutoScalingAnticipatedFlapping,
}

impl NotScaledCode {
    pub fn as_str(self) -> &'static str {
        match self {
            NotScaledCode::AlreadyAtMaxCapacity => "AlreadyAtMaxCapacity",
            NotScaledCode::AlreadyAtMinCapacity => "AlreadyAtMinCapacity",
            NotScaledCode::AlreadyAtDesiredCapacity => "AlreadyAtDesiredCapacity",
            NotScaledCode::AutoScalingAnticipatedFlapping => "AutoScalingAnticipatedFlapping",
        }
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Set the desired count to `to` (never the current count).
    Scale { to: i64 },
    /// A change was wanted but the bounds (or flapping) keep the count: a "not scaled"
    /// activity.
    NotScaled { proposed: i64, code: NotScaledCode },
    /// Nothing to do, and nothing to record (cooldown, suspension, no breach): why.
    Nothing(String),
}

/// Which of a target tracking policy's alarms fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingAlarm {
    High,
    Low,
}

/// A target tracking policy as decisions read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tracking {
    pub target: f64,
    pub scale_out_cooldown_s: i64,
    pub scale_in_cooldown_s: i64,
    pub disable_scale_in: bool,
}

/// `ceil(capacity × metric / target)`, held to what a capacity can be.
fn proportional(capacity: i64, metric: f64, target: f64) -> i64 {
    let raw = (capacity as f64 * metric.max(0.0) / target).ceil();
    if raw.is_nan() { capacity } else { raw.clamp(0.0, 1e9) as i64 }
}

fn in_cooldown(at: i64, seconds: i64, now: i64) -> bool {
    now < at.saturating_add(seconds.saturating_mul(1000))
}

/// A scale-out to `proposed` (already computed from the right base), held to the bounds.
fn scale_out(proposed: i64, s: &Situation, why_not: impl FnOnce() -> String) -> Decision {
    let to = proposed.min(s.bounds.max).max(s.bounds.min);
    if to > s.current {
        Decision::Scale { to }
    } else if proposed > s.current && s.current >= s.bounds.max {
        Decision::NotScaled { proposed, code: NotScaledCode::AlreadyAtMaxCapacity }
    } else {
        Decision::Nothing(why_not())
    }
}

/// A scale-in to `proposed`, held to the bounds.
fn scale_in(proposed: i64, s: &Situation) -> Decision {
    let to = proposed.max(s.bounds.min).min(s.bounds.max);
    if to < s.current {
        Decision::Scale { to }
    } else {
        Decision::NotScaled { proposed, code: NotScaledCode::AlreadyAtMinCapacity }
    }
}

/// The decision of target tracking policy `t` when its `alarm` fires with `value`.
pub fn target_tracking(t: &Tracking, alarm: TrackingAlarm, value: Option<f64>, s: &Situation) -> Decision {
    let Some(value) = value.filter(|v| v.is_finite()) else {
        return Decision::Nothing("the alarm gave no metric value to scale by".into());
    };
    match alarm {
        TrackingAlarm::High => {
            if s.suspended.dynamic_out {
                return Decision::Nothing("dynamic scale-out is suspended".into());
            }
            if value <= t.target {
                return Decision::Nothing(format!("the metric ({value}) is not above the target ({})", t.target));
            }
            let cooling = s.last.scale_out.filter(|(at, _)| in_cooldown(*at, t.scale_out_cooldown_s, s.now_ms));
            let base = cooling.map_or(s.current, |(_, from)| from);
            let proposed = proportional(base, value, t.target).max(1);
            scale_out(proposed, s, || match cooling {
                Some(_) => format!(
                    "scale-out cooldown in effect: {proposed} tasks from the {base} before the last scale-out \
                     add nothing to the current {}",
                    s.current
                ),
                None => format!("the desired count is already {}", s.current),
            })
        }
        TrackingAlarm::Low => {
            if t.disable_scale_in {
                return Decision::Nothing("scale-in is disabled for this policy".into());
            }
            if s.suspended.dynamic_in {
                return Decision::Nothing("dynamic scale-in is suspended".into());
            }
            if let Some(at) = s.last.scale_in_at.filter(|at| in_cooldown(*at, t.scale_in_cooldown_s, s.now_ms)) {
                return Decision::Nothing(format!("scale-in cooldown in effect since {at}"));
            }
            let proposed = proportional(s.current, value, t.target);
            if proposed >= s.current && s.current > s.bounds.min {
                return Decision::NotScaled { proposed, code: NotScaledCode::AutoScalingAnticipatedFlapping };
            }
            scale_in(proposed, s)
        }
    }
}

/// `AdjustmentType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdjustmentType {
    ChangeInCapacity,
    ExactCapacity,
    PercentChangeInCapacity,
}

impl AdjustmentType {
    pub fn parse(s: &str) -> Option<AdjustmentType> {
        Some(match s {
            "ChangeInCapacity" => AdjustmentType::ChangeInCapacity,
            "ExactCapacity" => AdjustmentType::ExactCapacity,
            "PercentChangeInCapacity" => AdjustmentType::PercentChangeInCapacity,
            _ => return None,
        })
    }
}

/// One step adjustment: an interval of the breach (bounds relative to the threshold;
/// `None` is infinity) and its adjustment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepAdjustment {
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub adjustment: i64,
}

/// A step scaling policy as decisions read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub adjustment_type: AdjustmentType,
    pub steps: Vec<StepAdjustment>,
    pub min_adjustment_magnitude: Option<i64>,
    pub cooldown_s: i64,
}

/// The step whose interval holds `breach` (metric minus threshold): above the
/// threshold the lower bound is inclusive and the upper exclusive, below it the
/// lower exclusive and the upper inclusive.
pub fn select_step(steps: &[StepAdjustment], breach: f64, above: bool) -> Option<&StepAdjustment> {
    steps.iter().find(|s| {
        let lower_ok = s.lower.is_none_or(|l| if above { breach >= l } else { breach > l });
        let upper_ok = s.upper.is_none_or(|u| if above { breach < u } else { breach <= u });
        lower_ok && upper_ok
    })
}

/// The capacity an adjustment makes of `base`.
pub fn adjusted(base: i64, kind: AdjustmentType, adjustment: i64, min_magnitude: Option<i64>) -> i64 {
    let new = match kind {
        AdjustmentType::ChangeInCapacity => base.saturating_add(adjustment),
        AdjustmentType::ExactCapacity => adjustment,
        AdjustmentType::PercentChangeInCapacity => {
            let change = base as f64 * adjustment as f64 / 100.0;
            // Toward zero, but a change of less than one task is one task.
            let mut change = if change > 0.0 && change < 1.0 {
                1
            } else if change < 0.0 && change > -1.0 {
                -1
            } else {
                change.trunc() as i64
            };
            if let Some(m) = min_magnitude.filter(|m| *m > 0)
                && change != 0
                && change.abs() < m
            {
                change = change.signum() * m;
            }
            base.saturating_add(change)
        }
    };
    new.max(0)
}

/// The decision of step scaling policy `p` for a breach of `breach` (`above` says on
/// which side of the threshold it is, for a breach of exactly 0).
pub fn step_scaling(p: &Step, breach: f64, above: bool, s: &Situation) -> Decision {
    let Some(step) = select_step(&p.steps, breach, above) else {
        return Decision::Nothing(format!("no step adjustment covers a breach of {breach}"));
    };
    let wanted = adjusted(s.current, p.adjustment_type, step.adjustment, p.min_adjustment_magnitude);
    let out = match p.adjustment_type {
        AdjustmentType::ExactCapacity => wanted > s.current,
        _ => step.adjustment > 0,
    };
    let inward = match p.adjustment_type {
        AdjustmentType::ExactCapacity => wanted < s.current,
        _ => step.adjustment < 0,
    };
    if out {
        if s.suspended.dynamic_out {
            return Decision::Nothing("dynamic scale-out is suspended".into());
        }
        let cooling = s.last.scale_out.filter(|(at, _)| in_cooldown(*at, p.cooldown_s, s.now_ms));
        let proposed = match cooling {
            Some((_, from)) => adjusted(from, p.adjustment_type, step.adjustment, p.min_adjustment_magnitude),
            None => wanted,
        };
        scale_out(proposed, s, || match cooling {
            Some((_, from)) => format!(
                "cooldown in effect: the step makes {proposed} of the {from} before the last scale-out, no more than \
                 the current {}",
                s.current
            ),
            None => format!("the desired count is already {}", s.current),
        })
    } else if inward {
        if s.suspended.dynamic_in {
            return Decision::Nothing("dynamic scale-in is suspended".into());
        }
        if let Some(at) = s.last.scale_in_at.filter(|at| in_cooldown(*at, p.cooldown_s, s.now_ms)) {
            return Decision::Nothing(format!("cooldown in effect since the scale-in at {at}"));
        }
        scale_in(wanted, s)
    } else {
        Decision::NotScaled { proposed: wanted, code: NotScaledCode::AlreadyAtDesiredCapacity }
    }
}

/// What a scheduled action does to a target: its new bounds, and the desired count
/// (with the cause AWS gives) when the current one falls outside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledChange {
    pub bounds: Bounds,
    pub desired: Option<(i64, String)>,
}

/// The change of a scheduled action setting `min` and/or `max` on a target now at
/// `bounds` with `current` tasks; refused when the bounds would cross.
pub fn scheduled(min: Option<i64>, max: Option<i64>, bounds: Bounds, current: i64) -> Result<ScheduledChange, String> {
    let new = Bounds { min: min.unwrap_or(bounds.min), max: max.unwrap_or(bounds.max) };
    if new.min > new.max {
        return Err(format!("the minimum capacity {} would be above the maximum capacity {}", new.min, new.max));
    }
    Ok(ScheduledChange { bounds: new, desired: into_bounds(new, current) })
}

/// The desired count a change of bounds brings `current` to, with its cause.
pub fn into_bounds(bounds: Bounds, current: i64) -> Option<(i64, String)> {
    if current < bounds.min {
        Some((bounds.min, format!("minimum capacity was set to {}", bounds.min)))
    } else if current > bounds.max {
        Some((bounds.max, format!("maximum capacity was set to {}", bounds.max)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
