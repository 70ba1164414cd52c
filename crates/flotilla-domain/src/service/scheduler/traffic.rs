//! Blue/green, linear and canary deployments: the stages a traffic-shifting PRIMARY
//! deployment (green) goes through while the deployment it replaces (blue) keeps
//! serving, and the weights the listener rules must forward with.
//!
//! SCALE_UP starts every green task beside the blue ones; once all are healthy the
//! test rule turns to green (TEST_TRAFFIC_SHIFT), then production traffic moves
//! (PRODUCTION_TRAFFIC_SHIFT: at once, in linear steps, or a canary share first),
//! both run for the bake time (BAKE_TIME) and the blue tasks stop (CLEAN_UP). The
//! shares live in the deployments (`traffic`), so the rules are rederived each pass.

use super::{Action, Ids};
use crate::service::{ALL_TRAFFIC, Deployment, DeploymentStrategy, LifecycleStage, Service, ServiceStatus};
use crate::time::Timestamp;
use std::collections::BTreeMap;

const MINUTE_MS: i64 = 60_000;

/// Moves the PRIMARY (green) deployment on by at most one stage. `green_ready`: all
/// its tasks run and are healthy.
pub(super) fn advance(service: &mut Service, green_ready: bool, ids: &mut dyn Ids, now: Timestamp) {
    let name = service.name.clone();
    let green = &service.deployments[0];
    let (Some(stage), Some(blue_id)) = (green.lifecycle_stage, green.shifting_from.clone()) else { return };
    let since = green.stage_since.unwrap_or(now);
    let config = green.configuration.clone();
    let id = green.id.clone();
    let elapsed = |from: Timestamp, minutes: i64| now.0.saturating_sub(from.0) >= minutes.saturating_mul(MINUTE_MS);
    let next = match stage {
        LifecycleStage::ScaleUp if green_ready => Some(LifecycleStage::TestTrafficShift),
        LifecycleStage::ScaleUp => None,
        LifecycleStage::TestTrafficShift => Some(LifecycleStage::ProductionTrafficShift),
        LifecycleStage::ProductionTrafficShift => {
            let current = green.traffic;
            let wanted = match config.strategy {
                DeploymentStrategy::Linear => {
                    let linear = config.linear_configuration;
                    let step = linear.map_or(100, |l| l.step_per_mille).max(1);
                    let bake = linear.map_or(6, |l| l.step_bake_time_in_minutes);
                    match green.shifted_at {
                        Some(at) if !elapsed(at, bake) => current,
                        _ => (current + step).min(ALL_TRAFFIC),
                    }
                }
                DeploymentStrategy::Canary => {
                    let canary = config.canary_configuration;
                    let share = canary.map_or(50, |c| c.canary_per_mille).min(ALL_TRAFFIC);
                    let bake = canary.map_or(10, |c| c.canary_bake_time_in_minutes);
                    match green.shifted_at {
                        None => share,
                        Some(at) if elapsed(at, bake) => ALL_TRAFFIC,
                        Some(_) => current,
                    }
                }
                _ => ALL_TRAFFIC,
            };
            if wanted != current {
                shift(service, &blue_id, wanted, now);
                let percent = f64::from(wanted) / 10.0;
                service.record_event(
                    ids.event_id(),
                    format!("(service {name}) (deployment {id}) shifted {percent:.1}% of production traffic to it."),
                    now,
                );
            }
            (wanted == ALL_TRAFFIC).then_some(LifecycleStage::BakeTime)
        }
        LifecycleStage::BakeTime if elapsed(since, config.bake_time_in_minutes.unwrap_or(0)) => {
            service.record_event(
                ids.event_id(),
                format!("(service {name}) (deployment {id}) bake time completed; stopping deployment {blue_id}."),
                now,
            );
            Some(LifecycleStage::CleanUp)
        }
        LifecycleStage::BakeTime | LifecycleStage::CleanUp => None,
    };
    if let Some(next) = next {
        let green = &mut service.deployments[0];
        green.lifecycle_stage = Some(next);
        green.stage_since = Some(now);
        green.updated_at = now;
    }
}

/// Gives the PRIMARY `share` of production traffic and blue the rest.
fn shift(service: &mut Service, blue: &str, share: u32, now: Timestamp) {
    for (i, d) in service.deployments.iter_mut().enumerate() {
        let traffic = match (i, d.id == blue) {
            (0, _) => share,
            (_, true) => ALL_TRAFFIC - share,
            _ => 0,
        };
        if d.traffic != traffic {
            d.traffic = traffic;
            d.updated_at = now;
        }
        if i == 0 {
            d.shifted_at = Some(now);
        }
    }
}

/// Puts all production traffic on `to` (a rollback, or a green deployment that
/// failed: the blue one takes everything back at once).
pub(super) fn return_to(service: &mut Service, to: &str, now: Timestamp) {
    if !service.deployments.iter().any(|d| d.id == to) {
        return;
    }
    for d in &mut service.deployments {
        let traffic = if d.id == to { ALL_TRAFFIC } else { 0 };
        if d.traffic != traffic {
            d.traffic = traffic;
            d.updated_at = now;
        }
    }
}

/// Whether the PRIMARY deployment is past the test traffic shift (the test rule
/// forwards to it).
fn tested(green: &Deployment) -> bool {
    !green.shifting() || green.lifecycle_stage.is_some_and(|s| s >= LifecycleStage::TestTrafficShift)
}

/// The forward weights every production and test rule of the service's
/// blue/green load balancers must have now.
pub(super) fn routes(service: &Service) -> Vec<Action> {
    if service.status != ServiceStatus::Active || service.deployments.is_empty() {
        return Vec::new();
    }
    let green = &service.deployments[0];
    let mut out = Vec::new();
    for (i, entry) in service.spec.load_balancers.iter().enumerate() {
        let Some(advanced) = &entry.advanced_configuration else { continue };
        let pair = [entry.target_group_arn.clone(), advanced.alternate_target_group_arn.clone()];
        let mut shares: BTreeMap<&str, u32> = pair.iter().map(|g| (g.as_str(), 0)).collect();
        for d in &service.deployments {
            *shares.entry(d.target_group(i, entry)).or_default() += d.traffic;
        }
        if shares.values().sum::<u32>() > 0 {
            out.push(Action::Route {
                rule: advanced.production_listener_rule.clone(),
                forward: weights(&pair, &shares),
            });
        }
        if let Some(test_rule) = &advanced.test_listener_rule {
            let blue = green.shifting_from.as_deref().and_then(|b| service.deployments.iter().find(|d| d.id == b));
            let tested_group = match blue {
                Some(b) if !tested(green) => b.target_group(i, entry),
                _ => green.target_group(i, entry),
            };
            let shares: BTreeMap<&str, u32> =
                pair.iter().map(|g| (g.as_str(), if g == tested_group { ALL_TRAFFIC } else { 0 })).collect();
            out.push(Action::Route { rule: test_rule.clone(), forward: weights(&pair, &shares) });
        }
    }
    out
}

/// Shares in tenths of a percent as ELB weights (0 to 999): a whole share is weight 1
/// beside 0s. The pair comes first; a third group a deployment is still in (its
/// entry changed since) follows with its share.
fn weights(pair: &[String; 2], shares: &BTreeMap<&str, u32>) -> Vec<(String, i64)> {
    let whole = shares.values().any(|s| *s >= ALL_TRAFFIC);
    let weight = |share: u32| if whole { i64::from(share >= ALL_TRAFFIC) } else { i64::from(share) };
    let mut out: Vec<(String, i64)> =
        pair.iter().map(|g| (g.clone(), weight(shares.get(g.as_str()).copied().unwrap_or(0)))).collect();
    for (g, share) in shares.iter().filter(|(g, _)| !pair.iter().any(|p| p == *g)) {
        out.push((g.to_string(), weight(*share)));
    }
    out
}
