//! CreateAutoScalingGroup, UpdateAutoScalingGroup, DescribeAutoScalingGroups,
//! DeleteAutoScalingGroup and SetDesiredCapacity.

use crate::activities;
use crate::decide::TERMINATION_POLICIES;
use crate::error::{AsgError, Result};
use crate::model::{CapacityChange, Group, GroupTag, Lifecycle, check_name, group_arn, subnets_of, zones_for_subnets};
use crate::params::{boolean, integer, page, required, string, strings, structures};
use crate::store::{Changes, Created};
use crate::{Answer, AsgService, MAX_GROUP_SIZE, MAX_GROUPS, retrying, xml};
use flotilla_core::time::Timestamp;
use flotilla_protocol::QueryRequest;
use std::collections::BTreeMap;

/// AWS's limit on a group's tags.
const MAX_TAGS: usize = 50;

fn not_found(name: &str) -> AsgError {
    AsgError::validation(format!("AutoScalingGroup name not found - AutoScalingGroup {name} not found"))
}

fn being_deleted(name: &str) -> AsgError {
    AsgError::validation(format!("AutoScalingGroup {name} is pending delete"))
}

/// Min ≤ desired ≤ max, in AWS's words when not.
fn check_sizes(min: i64, max: i64, desired: i64) -> Result<()> {
    if min > max {
        return Err(AsgError::validation(format!(
            "Max bound, {max}, must be greater than or equal to min bound, {min}"
        )));
    }
    if desired < min || desired > max {
        return Err(AsgError::validation(format!(
            "Desired capacity:{desired} must be between the specified min size:{min} and max size:{max}"
        )));
    }
    Ok(())
}

/// The features this subset leaves out, refused rather than ignored.
fn refuse_unsupported(q: &QueryRequest) -> Result<()> {
    let given = |prefix: &str| q.params().iter().any(|(k, _)| k == prefix || k.starts_with(&format!("{prefix}.")));
    for (param, what) in [
        ("LaunchTemplate", "Launch templates are"),
        ("MixedInstancesPolicy", "Mixed instances policies are"),
        ("InstanceId", "Groups made from an instance (InstanceId) are"),
        ("LoadBalancerNames", "Classic load balancers are"),
        ("TargetGroupARNs", "Target groups are"),
        ("TrafficSources", "Traffic sources are"),
        ("LifecycleHookSpecificationList", "Lifecycle hooks are"),
    ] {
        if given(param) {
            return Err(AsgError::validation(format!(
                "{what} not supported by Flotilla's Auto Scaling; use LaunchConfigurationName"
            )));
        }
    }
    Ok(())
}

/// The zones and subnets a request names (both optional here), checked against the
/// region.
fn zones_of(svc: &AsgService, q: &QueryRequest) -> Result<(Vec<String>, Option<String>)> {
    let zones = strings(q, "AvailabilityZones", 255, 30, AsgError::Validation)?;
    for z in &zones {
        let ok = z
            .strip_prefix(&svc.account.region)
            .is_some_and(|s| s.len() == 1 && s.chars().all(|c| c.is_ascii_lowercase()));
        if !ok {
            return Err(AsgError::validation(format!(
                "The availability zone {z} is not legal: zones of region {} look like {}a",
                svc.account.region, svc.account.region
            )));
        }
    }
    let subnets = string(q, "VPCZoneIdentifier", 5000)?.map(str::to_string).filter(|s| !subnets_of(Some(s)).is_empty());
    Ok((zones, subnets))
}

fn tags_of(q: &QueryRequest, name: &str) -> Result<Vec<GroupTag>> {
    let mut tags = Vec::new();
    for t in structures(q, "Tags")? {
        let key = t.get("Key").cloned().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(AsgError::validation("Tag keys must be 1 to 128 characters long"));
        }
        if key.starts_with("aws:") {
            return Err(AsgError::validation(format!("Tag key {key} is reserved: keys starting with aws: are AWS's")));
        }
        let value = t.get("Value").cloned().unwrap_or_default();
        if value.chars().count() > 256 {
            return Err(AsgError::validation(format!("The value of tag {key} is longer than 256 characters")));
        }
        if let Some(kind) = t.get("ResourceType")
            && kind != "auto-scaling-group"
        {
            return Err(AsgError::validation(format!("ResourceType must be auto-scaling-group, not '{kind}'")));
        }
        if let Some(id) = t.get("ResourceId")
            && id != name
        {
            return Err(AsgError::validation(format!("ResourceId {id} does not name the group {name}")));
        }
        let propagate = match t.get("PropagateAtLaunch").map(String::as_str) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(AsgError::validation(format!("PropagateAtLaunch must be true or false, not '{v}'"))),
        };
        if tags.iter().any(|t: &GroupTag| t.key == key) {
            return Err(AsgError::validation(format!("The tag key {key} is given twice")));
        }
        tags.push(GroupTag { key, value, propagate_at_launch: propagate });
    }
    if tags.len() > MAX_TAGS {
        return Err(AsgError::LimitExceeded(format!(
            "The number of tags ({}) exceeds the limit of {MAX_TAGS} per AutoScalingGroup",
            tags.len()
        )));
    }
    Ok(tags)
}

fn health_check_type(q: &QueryRequest) -> Result<Option<String>> {
    match string(q, "HealthCheckType", 32)? {
        None => Ok(None),
        Some(t @ ("EC2" | "ELB")) => Ok(Some(t.to_string())),
        Some(other) => Err(AsgError::validation(format!("HealthCheckType must be EC2 or ELB, not '{other}'"))),
    }
}

fn termination_policies(q: &QueryRequest) -> Result<Option<Vec<String>>> {
    let given = strings(q, "TerminationPolicies", 1600, 10, AsgError::Validation)?;
    if given.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = given.iter().find(|p| !TERMINATION_POLICIES.contains(&p.as_str())) {
        return Err(AsgError::validation(format!(
            "Termination policy {bad} is not one of {}",
            TERMINATION_POLICIES.join(", ")
        )));
    }
    Ok(Some(given))
}

pub(crate) async fn create(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "AutoScalingGroupName")?;
    check_name("AutoScalingGroupName", name).map_err(AsgError::Validation)?;
    refuse_unsupported(q)?;
    let lc = string(q, "LaunchConfigurationName", 255)?.filter(|l| !l.is_empty()).ok_or_else(|| {
        AsgError::validation(
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.",
        )
    })?;
    required(q, "MinSize")?;
    required(q, "MaxSize")?;
    let min = integer(q, "MinSize", 0, MAX_GROUP_SIZE)?.unwrap_or(0);
    let max = integer(q, "MaxSize", 0, MAX_GROUP_SIZE)?.unwrap_or(0);
    let desired = integer(q, "DesiredCapacity", 0, MAX_GROUP_SIZE)?.unwrap_or(min);
    check_sizes(min, max, desired)?;
    let (mut zones, subnets) = zones_of(svc, q)?;
    if zones.is_empty() && subnets.is_none() {
        return Err(AsgError::validation("At least one Availability Zone or VPC Subnet is required."));
    }
    if zones.is_empty() {
        zones = zones_for_subnets(&svc.account.region, subnets_of(subnets.as_deref()).len());
    }
    let now = Timestamp::now();
    let group = Group {
        name: name.to_string(),
        arn: group_arn(&svc.account, name),
        launch_configuration_name: lc.to_string(),
        min_size: min,
        max_size: max,
        desired_capacity: desired,
        default_cooldown: integer(q, "DefaultCooldown", 0, i64::from(i32::MAX))?.unwrap_or(300),
        availability_zones: zones,
        vpc_zone_identifier: subnets,
        health_check_type: health_check_type(q)?.unwrap_or_else(|| "EC2".into()),
        health_check_grace_period: integer(q, "HealthCheckGracePeriod", 0, i64::from(i32::MAX))?.unwrap_or(0),
        termination_policies: termination_policies(q)?.unwrap_or_else(|| vec!["Default".into()]),
        new_instances_protected_from_scale_in: boolean(q, "NewInstancesProtectedFromScaleIn")?.unwrap_or(false),
        tags: tags_of(q, name)?,
        created_at: now,
        deleting: false,
        capacity_change: (desired > 0).then(|| CapacityChange { at: now, what: activities::created(desired) }),
        launch_failures: 0,
        retry_launch_at: None,
        version: 1,
    };
    match svc.store.create_group(&group, MAX_GROUPS).await? {
        Created::Created => {
            svc.changed();
            Ok(Answer::empty())
        }
        Created::Exists => Err(AsgError::AlreadyExists(format!(
            "AutoScalingGroup by this name already exists - A group with the name {name} already exists"
        ))),
        Created::LimitReached => Err(AsgError::LimitExceeded(format!(
            "You have reached the limit of {MAX_GROUPS} AutoScalingGroups; delete unused ones first"
        ))),
        Created::NoLaunchConfiguration => Err(AsgError::validation(format!(
            "Launch configuration name not found - Launch configuration {lc} not found"
        ))),
    }
}

pub(crate) async fn update(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "AutoScalingGroupName")?;
    refuse_unsupported(q)?;
    let lc = string(q, "LaunchConfigurationName", 255)?.filter(|l| !l.is_empty());
    let min = integer(q, "MinSize", 0, MAX_GROUP_SIZE)?;
    let max = integer(q, "MaxSize", 0, MAX_GROUP_SIZE)?;
    let desired = integer(q, "DesiredCapacity", 0, MAX_GROUP_SIZE)?;
    let (zones, subnets) = zones_of(svc, q)?;
    let health = health_check_type(q)?;
    let grace = integer(q, "HealthCheckGracePeriod", 0, i64::from(i32::MAX))?;
    let cooldown = integer(q, "DefaultCooldown", 0, i64::from(i32::MAX))?;
    let policies = termination_policies(q)?;
    let protect = boolean(q, "NewInstancesProtectedFromScaleIn")?;
    retrying(|| async {
        let mut group = svc.find_group(name).await?;
        if group.deleting {
            return Err(being_deleted(name));
        }
        let before = group.desired_capacity;
        if let Some(lc) = lc
            && lc != group.launch_configuration_name
        {
            group.launch_configuration_name = lc.to_string();
            // A new configuration deserves a fresh try at once.
            group.launch_failures = 0;
            group.retry_launch_at = None;
        }
        let new_min = min.unwrap_or(group.min_size);
        let new_max = max.unwrap_or(group.max_size);
        // As on AWS: a new minimum above the desired capacity raises it, a new maximum
        // below it lowers it, unless the request sets it.
        let new_desired = desired.unwrap_or_else(|| group.desired_capacity.clamp(new_min.min(new_max), new_max));
        check_sizes(new_min, new_max, new_desired)?;
        (group.min_size, group.max_size, group.desired_capacity) = (new_min, new_max, new_desired);
        if !zones.is_empty() || subnets.is_some() {
            group.vpc_zone_identifier = subnets.clone().or(group.vpc_zone_identifier.take());
            group.availability_zones = if zones.is_empty() {
                zones_for_subnets(&svc.account.region, group.subnets().len())
            } else {
                zones.clone()
            };
        }
        if let Some(h) = &health {
            group.health_check_type = h.clone();
        }
        if let Some(g) = grace {
            group.health_check_grace_period = g;
        }
        if let Some(c) = cooldown {
            group.default_cooldown = c;
        }
        if let Some(p) = &policies {
            group.termination_policies = p.clone();
        }
        if let Some(p) = protect {
            group.new_instances_protected_from_scale_in = p;
        }
        if group.desired_capacity != before {
            group.capacity_change =
                Some(CapacityChange { at: Timestamp::now(), what: activities::updated(&group, before) });
        }
        svc.store.commit(&mut Changes { group: Some(group), ..Changes::default() }).await
    })
    .await?;
    svc.changed();
    Ok(Answer::empty())
}

/// SetDesiredCapacity's rule, shared with ECS's capacity providers.
pub(crate) async fn set_desired(svc: &AsgService, name_or_arn: &str, desired: i64) -> Result<()> {
    retrying(|| async {
        let mut group = svc.find_group(name_or_arn).await?;
        if group.deleting {
            return Err(being_deleted(&group.name));
        }
        if desired > group.max_size {
            return Err(AsgError::validation(format!(
                "New SetDesiredCapacity value {desired} is above max value {} for the AutoScalingGroup.",
                group.max_size
            )));
        }
        if desired < group.min_size {
            return Err(AsgError::validation(format!(
                "New SetDesiredCapacity value {desired} is below min value {} for the AutoScalingGroup.",
                group.min_size
            )));
        }
        if desired == group.desired_capacity {
            return Ok(());
        }
        let from = group.desired_capacity;
        group.desired_capacity = desired;
        group.capacity_change =
            Some(CapacityChange { at: Timestamp::now(), what: activities::set_desired(from, desired) });
        svc.store.commit(&mut Changes { group: Some(group), ..Changes::default() }).await
    })
    .await?;
    svc.changed();
    Ok(())
}

pub(crate) async fn set_desired_capacity(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "AutoScalingGroupName")?;
    required(q, "DesiredCapacity")?;
    let desired = integer(q, "DesiredCapacity", i64::MIN, i64::MAX)?.unwrap_or(0);
    boolean(q, "HonorCooldown")?;
    set_desired(svc, name, desired).await?;
    Ok(Answer::empty())
}

/// Whether a group matches every `Filters` member (tags only, as on AWS).
fn matches(group: &Group, filters: &[(String, Vec<String>)]) -> bool {
    filters.iter().all(|(name, values)| match name.as_str() {
        "tag-key" => group.tags.iter().any(|t| values.contains(&t.key)),
        "tag-value" => group.tags.iter().any(|t| values.contains(&t.value)),
        other => {
            let key = other.strip_prefix("tag:").unwrap_or_default();
            group.tags.iter().any(|t| t.key == key && values.contains(&t.value))
        }
    })
}

fn filters_of(q: &QueryRequest) -> Result<Vec<(String, Vec<String>)>> {
    let mut filters = Vec::new();
    for f in structures(q, "Filters")? {
        let name = f.get("Name").cloned().unwrap_or_default();
        if !(name == "tag-key" || name == "tag-value" || name.strip_prefix("tag:").is_some_and(|k| !k.is_empty())) {
            return Err(AsgError::validation(format!(
                "Filter name '{name}' is not supported: use tag-key, tag-value or tag:<key>"
            )));
        }
        let mut values: BTreeMap<u32, String> = BTreeMap::new();
        for (k, v) in &f {
            if let Some(i) = k.strip_prefix("Values.member.").and_then(|i| i.parse().ok()) {
                values.insert(i, v.clone());
            }
        }
        filters.push((name, values.into_values().collect()));
    }
    Ok(filters)
}

pub(crate) async fn describe(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let names = strings(q, "AutoScalingGroupNames", 255, 100, AsgError::Validation)?;
    let with_instances = boolean(q, "IncludeInstances")?.unwrap_or(true);
    let filters = filters_of(q)?;
    let (after, size) = page(q, 50, 100)?;
    let mut found: Vec<Group> = Vec::new();
    if names.is_empty() {
        let mut cursor = after.clone();
        loop {
            let batch = svc.store.groups(cursor.as_deref(), 100).await?;
            let done = batch.len() < 100;
            cursor = batch.last().map(|g| g.name.clone());
            found.extend(batch.into_iter().filter(|g| matches(g, &filters)));
            if done || found.len() > size {
                break;
            }
        }
    } else {
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        for name in sorted.iter().filter(|n| after.as_ref().is_none_or(|a| n.as_str() > a.as_str())) {
            if let Some(g) = svc.store.group(name).await?
                && matches(&g, &filters)
            {
                found.push(g);
                if found.len() > size {
                    break;
                }
            }
        }
    }
    let next = if found.len() > size {
        found.truncate(size);
        found.last().map(|g| flotilla_core::paging::encode_token(&g.name))
    } else {
        None
    };
    let mut described = Vec::new();
    for g in found {
        let instances = if with_instances { Some(svc.store.instances_of(&g.name).await?) } else { None };
        described.push((g, instances));
    }
    let account_id = svc.account.account_id.clone();
    Ok(Answer::new(move |w| {
        xml::members(w, "AutoScalingGroups", &described, |w, (g, instances)| {
            xml::group(w, g, instances.as_deref(), &account_id)
        });
        if let Some(t) = &next {
            w.element("NextToken", t);
        }
    }))
}

pub(crate) async fn delete(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "AutoScalingGroupName")?;
    let force = boolean(q, "ForceDelete")?.unwrap_or(false);
    retrying(|| async {
        let Some(mut group) = svc.store.group(name).await? else { return Err(not_found(name)) };
        if group.deleting {
            return Ok(());
        }
        let instances = svc.store.instances_of(name).await?;
        if instances.is_empty() {
            return svc.store.commit(&mut Changes { group: Some(group), delete_group: true, ..Changes::default() }).await;
        }
        if !force {
            if instances.iter().any(|i| i.lifecycle_state != Lifecycle::InService) {
                return Err(AsgError::ScalingActivityInProgress(
                    "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group."
                        .into(),
                ));
            }
            return Err(AsgError::ResourceInUse(
                "You cannot delete an AutoScalingGroup while there are instances still in the group.".into(),
            ));
        }
        // The controller terminates every instance, protected or not, then deletes it.
        let from = group.desired_capacity;
        group.deleting = true;
        (group.min_size, group.max_size, group.desired_capacity) = (0, 0, 0);
        group.capacity_change = Some(CapacityChange { at: Timestamp::now(), what: activities::force_deleted(from) });
        svc.store.commit(&mut Changes { group: Some(group), ..Changes::default() }).await
    })
    .await?;
    svc.changed();
    Ok(Answer::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_in_awss_words() {
        assert!(check_sizes(0, 4, 2).is_ok());
        let e = check_sizes(3, 2, 2).unwrap_err();
        assert_eq!(e.to_string(), "Max bound, 2, must be greater than or equal to min bound, 3");
        let e = check_sizes(0, 4, 5).unwrap_err();
        assert_eq!(e.to_string(), "Desired capacity:5 must be between the specified min size:0 and max size:4");
    }
}
