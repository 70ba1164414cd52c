//! How each shape is written in query-protocol answers (botocore's member names).

use crate::model::{Activity, Group, Instance, LaunchConfiguration};
use flotilla_protocol::XmlWriter;

/// Writes `items` as `<name><member>…</member>…</name>`.
pub(crate) fn members<T>(w: &mut XmlWriter, name: &str, items: &[T], each: impl Fn(&mut XmlWriter, &T)) {
    w.open(name);
    for item in items {
        w.open("member");
        each(w, item);
        w.close();
    }
    w.close();
}

/// Writes strings as `<name><member>text</member>…</name>`.
pub(crate) fn string_members(w: &mut XmlWriter, name: &str, items: &[String]) {
    w.open(name);
    for item in items {
        w.element("member", item);
    }
    w.close();
}

fn boolean(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

pub(crate) fn launch_configuration(w: &mut XmlWriter, lc: &LaunchConfiguration) {
    w.element("LaunchConfigurationName", &lc.name)
        .element("LaunchConfigurationARN", &lc.arn)
        .element("ImageId", &lc.image_id);
    if let Some(k) = &lc.key_name {
        w.element("KeyName", k);
    }
    string_members(w, "SecurityGroups", &lc.security_groups);
    string_members(w, "ClassicLinkVPCSecurityGroups", &[]);
    if let Some(u) = &lc.user_data {
        w.element("UserData", u);
    }
    w.element("InstanceType", &lc.instance_type).element("KernelId", "").element("RamdiskId", "");
    members::<()>(w, "BlockDeviceMappings", &[], |_, _| {});
    w.open("InstanceMonitoring").element("Enabled", boolean(lc.instance_monitoring)).close();
    if let Some(p) = &lc.iam_instance_profile {
        w.element("IamInstanceProfile", p);
    }
    w.element("CreatedTime", &lc.created_at.to_iso8601()).element("EbsOptimized", boolean(lc.ebs_optimized));
    if let Some(a) = lc.associate_public_ip_address {
        w.element("AssociatePublicIpAddress", boolean(a));
    }
    if let Some(t) = &lc.placement_tenancy {
        w.element("PlacementTenancy", t);
    }
}

/// An instance as DescribeAutoScalingGroups lists it.
fn group_instance(w: &mut XmlWriter, i: &Instance) {
    w.element("InstanceId", &i.id)
        .element("InstanceType", &i.instance_type)
        .element("AvailabilityZone", &i.availability_zone)
        .element("LifecycleState", i.lifecycle_state.as_str())
        .element("HealthStatus", i.health_status.as_str())
        .element("LaunchConfigurationName", &i.launch_configuration_name)
        .element("ProtectedFromScaleIn", boolean(i.protected_from_scale_in));
}

/// An instance as DescribeAutoScalingInstances lists it (health in upper case there).
pub(crate) fn auto_scaling_instance(w: &mut XmlWriter, i: &Instance) {
    w.element("InstanceId", &i.id)
        .element("InstanceType", &i.instance_type)
        .element("AutoScalingGroupName", &i.group_name)
        .element("AvailabilityZone", &i.availability_zone)
        .element("LifecycleState", i.lifecycle_state.as_str())
        .element("HealthStatus", i.health_status.as_upper())
        .element("LaunchConfigurationName", &i.launch_configuration_name)
        .element("ProtectedFromScaleIn", boolean(i.protected_from_scale_in));
}

/// The service-linked role every group names.
pub(crate) fn service_linked_role(account_id: &str) -> String {
    format!("arn:aws:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
}

pub(crate) fn group(w: &mut XmlWriter, g: &Group, instances: Option<&[Instance]>, account_id: &str) {
    w.element("AutoScalingGroupName", &g.name)
        .element("AutoScalingGroupARN", &g.arn)
        .element("LaunchConfigurationName", &g.launch_configuration_name)
        .element("MinSize", &g.min_size.to_string())
        .element("MaxSize", &g.max_size.to_string())
        .element("DesiredCapacity", &g.desired_capacity.to_string())
        .element("DefaultCooldown", &g.default_cooldown.to_string());
    string_members(w, "AvailabilityZones", &g.availability_zones);
    string_members(w, "LoadBalancerNames", &[]);
    string_members(w, "TargetGroupARNs", &[]);
    w.element("HealthCheckType", &g.health_check_type)
        .element("HealthCheckGracePeriod", &g.health_check_grace_period.to_string());
    members(w, "Instances", instances.unwrap_or_default(), group_instance);
    w.element("CreatedTime", &g.created_at.to_iso8601());
    members::<()>(w, "SuspendedProcesses", &[], |_, _| {});
    if let Some(v) = &g.vpc_zone_identifier {
        w.element("VPCZoneIdentifier", v);
    }
    members::<()>(w, "EnabledMetrics", &[], |_, _| {});
    if g.deleting {
        w.element("Status", "Delete in progress");
    }
    members(w, "Tags", &g.tags, |w, t| {
        w.element("ResourceId", &g.name)
            .element("ResourceType", "auto-scaling-group")
            .element("Key", &t.key)
            .element("Value", &t.value)
            .element("PropagateAtLaunch", boolean(t.propagate_at_launch));
    });
    string_members(w, "TerminationPolicies", &g.termination_policies);
    w.element("NewInstancesProtectedFromScaleIn", boolean(g.new_instances_protected_from_scale_in))
        .element("ServiceLinkedRoleARN", &service_linked_role(account_id))
        .element("CapacityRebalance", "false");
    members::<()>(w, "TrafficSources", &[], |_, _| {});
}

pub(crate) fn activity(w: &mut XmlWriter, a: &Activity, group_deleted: bool) {
    w.element("ActivityId", &a.id)
        .element("AutoScalingGroupName", &a.group_name)
        .element("Description", &a.description)
        .element("Cause", &a.cause)
        .element("StartTime", &a.start_time.to_iso8601());
    if let Some(end) = a.end_time {
        w.element("EndTime", &end.to_iso8601());
    }
    w.element("StatusCode", a.status_code.as_str());
    if let Some(m) = &a.status_message {
        w.element("StatusMessage", m);
    }
    w.element("Progress", &a.progress.to_string())
        .element("Details", &a.details)
        .element("AutoScalingGroupARN", &a.group_arn);
    if group_deleted {
        w.element("AutoScalingGroupState", "Deleted");
    }
}
