//! The stored documents (launch configurations, groups, instances, scaling activities)
//! and the rules of their names and ARNs.

use flotilla_core::account::AccountContext;
use flotilla_core::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The ARN service and IAM prefix.
pub const SERVICE: &str = "autoscaling";

/// A launch configuration: what an instance of a group is launched from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchConfiguration {
    pub name: String,
    pub arn: String,
    /// Chooses the launcher: `flotilla:simulated`, `flotilla:docker`, or anything
    /// else for the operator's launch command.
    pub image_id: String,
    pub instance_type: String,
    /// Base64, as given (and answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_instance_profile: Option<String>,
    #[serde(default = "yes")]
    pub instance_monitoring: bool,
    #[serde(default)]
    pub ebs_optimized: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associate_public_ip_address: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_tenancy: Option<String>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub version: i64,
}

fn yes() -> bool {
    true
}

/// A tag of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupTag {
    pub key: String,
    pub value: String,
    pub propagate_at_launch: bool,
}

/// The last change of a group's desired capacity, which the causes of the
/// activities it brings about begin with (`At … a user request … changing the desired
/// capacity from 0 to 2.`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityChange {
    pub at: Timestamp,
    /// E.g. `a user request explicitly set group desired capacity changing the desired
    /// capacity from 0 to 2`.
    pub what: String,
}

/// An Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub name: String,
    pub arn: String,
    pub launch_configuration_name: String,
    pub min_size: i64,
    pub max_size: i64,
    pub desired_capacity: i64,
    pub default_cooldown: i64,
    /// The zones instances are spread over (derived from the subnets when only
    /// `VPCZoneIdentifier` was given).
    pub availability_zones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_zone_identifier: Option<String>,
    pub health_check_type: String,
    pub health_check_grace_period: i64,
    pub termination_policies: Vec<String>,
    pub new_instances_protected_from_scale_in: bool,
    #[serde(default)]
    pub tags: Vec<GroupTag>,
    pub created_at: Timestamp,
    /// ForceDelete was asked: its instances are being terminated, then it goes.
    #[serde(default)]
    pub deleting: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_change: Option<CapacityChange>,
    /// Launches that failed in a row; the next is not tried before `retry_launch_at`.
    #[serde(default)]
    pub launch_failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_launch_at: Option<Timestamp>,
    #[serde(default)]
    pub version: i64,
}

/// Where an instance may be launched: a zone, and the subnet it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub zone: String,
    pub subnet: Option<String>,
}

impl Group {
    /// The subnets of `VPCZoneIdentifier`, in order.
    pub fn subnets(&self) -> Vec<String> {
        subnets_of(self.vpc_zone_identifier.as_deref())
    }

    /// Where instances may go: one place per subnet (in the zone it stands for), or
    /// one per zone when the group names no subnets.
    pub fn placements(&self) -> Vec<Placement> {
        let subnets = self.subnets();
        if subnets.is_empty() {
            return self.availability_zones.iter().map(|z| Placement { zone: z.clone(), subnet: None }).collect();
        }
        subnets
            .into_iter()
            .enumerate()
            .map(|(i, subnet)| Placement {
                zone: self
                    .availability_zones
                    .get(i % self.availability_zones.len().max(1))
                    .cloned()
                    .unwrap_or_default(),
                subnet: Some(subnet),
            })
            .collect()
    }
}

/// The subnets of a `VPCZoneIdentifier` (comma-separated, blanks ignored).
pub fn subnets_of(vpc_zone_identifier: Option<&str>) -> Vec<String> {
    vpc_zone_identifier
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The zones Flotilla puts subnets in when a group names subnets but no zones: it
/// has no VPCs, so the N-th subnet stands for the region's N-th zone (`a` to `f`).
pub fn zones_for_subnets(region: &str, subnets: usize) -> Vec<String> {
    (0..subnets.min(6)).map(|i| format!("{region}{}", (b'a' + i as u8) as char)).collect()
}

/// Where an instance is in its life, as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lifecycle {
    Pending,
    InService,
    Terminating,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Pending => "Pending",
            Lifecycle::InService => "InService",
            Lifecycle::Terminating => "Terminating",
        }
    }
}

/// An instance's health: `Unhealthy` ones are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    Healthy,
    Unhealthy,
}

impl Health {
    /// As DescribeAutoScalingGroups writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Unhealthy => "Unhealthy",
        }
    }

    /// As DescribeAutoScalingInstances writes it (AWS's upper case there).
    pub fn as_upper(self) -> &'static str {
        match self {
            Health::Healthy => "HEALTHY",
            Health::Unhealthy => "UNHEALTHY",
        }
    }
}

/// Which local process an instance is: enough to find it again after a restart of
/// the control plane and to be sure it is the same process (a pid can be reused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessRecord {
    pub pid: u32,
    /// Its start time in clock ticks after boot (`/proc/PID/stat`, field 22).
    pub start_ticks: u64,
    /// The boot it started in (`/proc/sys/kernel/random/boot_id`): an earlier boot's
    /// process is never this one.
    pub boot_id: String,
    /// The host it runs on: another control plane replica's process can only be left
    /// alone, never watched or signalled from here.
    #[serde(default)]
    pub host: String,
}

/// An instance of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub id: String,
    pub group_name: String,
    pub availability_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    pub lifecycle_state: Lifecycle,
    pub health_status: Health,
    pub protected_from_scale_in: bool,
    /// What it was launched from (kept, so it can be launched again in place after the
    /// control plane restarted, whatever became of the configuration).
    pub launch_configuration_name: String,
    pub image_id: String,
    pub instance_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    pub launched_at: Timestamp,
    /// The local process it is, for instances a local launcher started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessRecord>,
    /// The activity in progress for it (its launch, then its termination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    /// Why it is being terminated, once it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_cause: Option<String>,
    #[serde(default)]
    pub version: i64,
}

impl Instance {
    /// Pending or InService: it counts toward the group's capacity.
    pub fn is_live(&self) -> bool {
        matches!(self.lifecycle_state, Lifecycle::Pending | Lifecycle::InService)
    }
}

/// A scaling activity's status, as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityStatus {
    InProgress,
    Successful,
    Failed,
    Cancelled,
}

impl ActivityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityStatus::InProgress => "InProgress",
            ActivityStatus::Successful => "Successful",
            ActivityStatus::Failed => "Failed",
            ActivityStatus::Cancelled => "Cancelled",
        }
    }
}

/// One scaling activity: an instance launched or terminated, or a launch that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub id: String,
    pub group_name: String,
    pub group_arn: String,
    pub description: String,
    pub cause: String,
    pub start_time: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    pub status_code: ActivityStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub progress: i64,
    /// JSON, e.g. `{"Subnet ID":"subnet-1","Availability Zone":"us-east-1a"}`.
    pub details: String,
}

/// AWS's limit on a StatusMessage.
pub const MAX_STATUS_MESSAGE: usize = 255;

impl Activity {
    /// Ends it with `status` and, when there is one, a message (cut to AWS's 255
    /// characters).
    pub fn finish(&mut self, status: ActivityStatus, message: Option<String>, now: Timestamp) {
        self.status_code = status;
        self.status_message = message.map(|m| cut(&m, MAX_STATUS_MESSAGE));
        self.end_time = Some(now);
        self.progress = 100;
    }
}

/// `text` cut to at most `max` characters (an ellipsis marks a cut).
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A new instance id: `i-` and 17 hex digits, as EC2's.
pub fn new_instance_id() -> String {
    format!("i-{}", &uuid::Uuid::new_v4().simple().to_string()[..17])
}

/// Whether `id` looks like an EC2 instance id (`i-` and 8 or 17 hex digits).
pub fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| matches!(hex.len(), 8 | 17) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:UUID:autoScalingGroupName/NAME`.
pub fn group_arn(account: &AccountContext, name: &str) -> String {
    account.arn(SERVICE, &format!("autoScalingGroup:{}:autoScalingGroupName/{name}", uuid::Uuid::new_v4())).to_string()
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:launchConfiguration:UUID:launchConfigurationName/NAME`.
pub fn launch_configuration_arn(account: &AccountContext, name: &str) -> String {
    account
        .arn(SERVICE, &format!("launchConfiguration:{}:launchConfigurationName/{name}", uuid::Uuid::new_v4()))
        .to_string()
}

/// The group name in a group ARN, or `None` when it is not one.
pub fn group_name_of_arn(arn: &str) -> Option<&str> {
    let (_, name) = arn.strip_prefix("arn:")?.split_once(":autoScalingGroupName/")?;
    (!name.is_empty()).then_some(name)
}

/// A group or launch configuration name: 1 to 255 characters, none of them a control
/// character.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 255 {
        return Err(format!("{what} must be 1 to 255 characters long"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{what} must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_their_resource() {
        let account = AccountContext::default();
        let arn = group_arn(&account, "web");
        assert!(arn.starts_with("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:"), "{arn}");
        assert_eq!(group_name_of_arn(&arn), Some("web"));
        assert_eq!(group_name_of_arn("web"), None);
        assert_eq!(group_name_of_arn("arn:aws:autoscaling:us-east-1:0:autoScalingGroup:u:autoScalingGroupName/"), None);
        let lc = launch_configuration_arn(&account, "lc");
        assert!(lc.contains(":launchConfiguration:") && lc.ends_with(":launchConfigurationName/lc"), "{lc}");
    }

    #[test]
    fn instance_ids_are_ec2s() {
        let id = new_instance_id();
        assert!(is_instance_id(&id), "{id}");
        assert_eq!(id.len(), 19);
        assert!(is_instance_id("i-0123abcd"));
        assert!(!is_instance_id("i-xyz"));
        assert!(!is_instance_id("0123456789abcdef0"));
    }

    fn group(zones: &[&str], subnets: Option<&str>) -> Group {
        Group {
            name: "g".into(),
            arn: "a".into(),
            launch_configuration_name: "lc".into(),
            min_size: 0,
            max_size: 1,
            desired_capacity: 0,
            default_cooldown: 300,
            availability_zones: zones.iter().map(|z| z.to_string()).collect(),
            vpc_zone_identifier: subnets.map(str::to_string),
            health_check_type: "EC2".into(),
            health_check_grace_period: 0,
            termination_policies: vec!["Default".into()],
            new_instances_protected_from_scale_in: false,
            tags: Vec::new(),
            created_at: Timestamp(0),
            deleting: false,
            capacity_change: None,
            launch_failures: 0,
            retry_launch_at: None,
            version: 1,
        }
    }

    #[test]
    fn placements_follow_subnets_else_zones() {
        let by_zone = group(&["us-east-1a", "us-east-1b"], None).placements();
        assert_eq!(by_zone.iter().map(|p| p.zone.as_str()).collect::<Vec<_>>(), ["us-east-1a", "us-east-1b"]);
        assert!(by_zone.iter().all(|p| p.subnet.is_none()));
        let by_subnet = group(&["us-east-1a", "us-east-1b"], Some("subnet-1, subnet-2,subnet-3")).placements();
        let got: Vec<(&str, Option<&str>)> = by_subnet.iter().map(|p| (p.zone.as_str(), p.subnet.as_deref())).collect();
        assert_eq!(
            got,
            [("us-east-1a", Some("subnet-1")), ("us-east-1b", Some("subnet-2")), ("us-east-1a", Some("subnet-3"))]
        );
        assert_eq!(zones_for_subnets("eu-west-1", 2), ["eu-west-1a", "eu-west-1b"]);
    }

    #[test]
    fn status_messages_are_cut_to_awss_limit() {
        let mut a = Activity {
            id: "1".into(),
            group_name: "g".into(),
            group_arn: "a".into(),
            description: "d".into(),
            cause: "c".into(),
            start_time: Timestamp(1),
            end_time: None,
            status_code: ActivityStatus::InProgress,
            status_message: None,
            progress: 0,
            details: "{}".into(),
        };
        a.finish(ActivityStatus::Failed, Some("x".repeat(400)), Timestamp(2));
        assert_eq!(a.status_message.as_ref().unwrap().chars().count(), 255);
        assert_eq!((a.progress, a.end_time), (100, Some(Timestamp(2))));
    }
}
