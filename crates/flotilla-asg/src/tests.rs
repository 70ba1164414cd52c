//! The service through its operations and its controller, with a stand-in agent
//! binary (a shell script) and SQLite in a temporary directory.

use super::*;
use crate::launcher::tests::{FAKE_AGENT, script, settings};
use crate::model::ProcessRecord;
use flotilla_db::StoreLocation;
use std::path::Path;

struct Setup {
    dir: tempfile::TempDir,
    svc: AsgService,
    binary: std::path::PathBuf,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let binary = script(dir.path(), "fake-agent", FAKE_AGENT);
    let svc = service(dir.path(), &binary).await;
    Setup { dir, svc, binary }
}

async fn service(dir: &Path, binary: &Path) -> AsgService {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let location = StoreLocation::Sqlite { dir: dir.join("data") };
    AsgService::open(&location, AccountContext::default(), settings(dir, Some(binary.to_path_buf()))).await.unwrap()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Calls `action` with `params`; the answer's XML, or the error.
async fn call(svc: &AsgService, action: &str, params: &[(&str, &str)]) -> std::result::Result<String, AwsError> {
    let mut body = format!("Action={action}&Version={VERSION}");
    for (k, v) in params {
        body.push_str(&format!("&{}={}", encode(k), encode(v)));
    }
    let response = svc.call(action, Bytes::from(body), &Caller::new("AKIATEST", "req-1")).await?;
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Ok(String::from_utf8(bytes.to_vec()).unwrap())
}

async fn ok(svc: &AsgService, action: &str, params: &[(&str, &str)]) -> String {
    call(svc, action, params).await.unwrap_or_else(|e| panic!("{action}: {e}"))
}

async fn refused(svc: &AsgService, action: &str, params: &[(&str, &str)]) -> AwsError {
    match call(svc, action, params).await {
        Ok(xml) => panic!("{action} was not refused: {xml}"),
        Err(e) => e,
    }
}

/// The texts of every `<tag>` in `xml`.
fn values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + close.len()..];
    }
    out
}

async fn reconcile(svc: &AsgService) {
    svc.controllers()[0].reconcile().await.unwrap();
}

/// `#!/bin/bash\necho ECS_CLUSTER=prod >> /etc/ecs/ecs.config`
const USER_DATA: &str = "IyEvYmluL2Jhc2gKZWNobyBFQ1NfQ0xVU1RFUj1wcm9kID4+IC9ldGMvZWNzL2Vjcy5jb25maWc=";

async fn group_of(svc: &AsgService, image: &str, name: &str, desired: &str) {
    ok(
        svc,
        "CreateLaunchConfiguration",
        &[
            ("LaunchConfigurationName", &format!("{name}-lc")),
            ("ImageId", image),
            ("InstanceType", "t3.micro"),
            ("UserData", USER_DATA),
        ],
    )
    .await;
    ok(
        svc,
        "CreateAutoScalingGroup",
        &[
            ("AutoScalingGroupName", name),
            ("LaunchConfigurationName", &format!("{name}-lc")),
            ("MinSize", "0"),
            ("MaxSize", "3"),
            ("DesiredCapacity", desired),
            ("AvailabilityZones.member.1", "us-east-1a"),
            ("AvailabilityZones.member.2", "us-east-1b"),
        ],
    )
    .await;
}

#[tokio::test]
async fn launch_configurations_are_created_described_and_deleted_unless_used() {
    let s = setup().await;
    let svc = &s.svc;
    ok(
        svc,
        "CreateLaunchConfiguration",
        &[
            ("LaunchConfigurationName", "lc-1"),
            ("ImageId", "flotilla:simulated"),
            ("InstanceType", "m5.large"),
            ("UserData", USER_DATA),
            ("SecurityGroups.member.1", "sg-1"),
        ],
    )
    .await;
    let e = refused(
        svc,
        "CreateLaunchConfiguration",
        &[("LaunchConfigurationName", "lc-1"), ("ImageId", "x"), ("InstanceType", "m5.large")],
    )
    .await;
    assert_eq!(e.code, "AlreadyExists");
    let e = refused(
        svc,
        "CreateLaunchConfiguration",
        &[("LaunchConfigurationName", "lc-2"), ("ImageId", "x"), ("InstanceType", "q7.tiny")],
    )
    .await;
    assert_eq!(e.code, "ValidationError");
    assert!(e.message.contains("q7.tiny"), "{}", e.message);
    let e = refused(
        svc,
        "CreateLaunchConfiguration",
        &[("LaunchConfigurationName", "lc-2"), ("ImageId", "x"), ("InstanceType", "m5.large"), ("UserData", "%%%")],
    )
    .await;
    assert_eq!((e.code.as_str(), e.message.as_str()), ("ValidationError", "Invalid BASE64 encoding of user data."));
    let e =
        refused(svc, "CreateLaunchConfiguration", &[("LaunchConfigurationName", "lc-2"), ("InstanceType", "m5.large")])
            .await;
    assert_eq!(e.code, "ValidationError");

    let xml = ok(svc, "DescribeLaunchConfigurations", &[("LaunchConfigurationNames.member.1", "lc-1")]).await;
    assert_eq!(values(&xml, "LaunchConfigurationName"), ["lc-1"]);
    assert_eq!(values(&xml, "ImageId"), ["flotilla:simulated"]);
    assert_eq!(values(&xml, "UserData"), [USER_DATA]);
    assert!(values(&xml, "LaunchConfigurationARN")[0].contains(":launchConfigurationName/lc-1"));

    for n in 2..=4 {
        ok(
            svc,
            "CreateLaunchConfiguration",
            &[
                ("LaunchConfigurationName", &format!("lc-{n}")),
                ("ImageId", "flotilla:simulated"),
                ("InstanceType", "t3.micro"),
            ],
        )
        .await;
    }
    let first = ok(svc, "DescribeLaunchConfigurations", &[("MaxRecords", "3")]).await;
    assert_eq!(values(&first, "LaunchConfigurationName"), ["lc-1", "lc-2", "lc-3"]);
    let token = values(&first, "NextToken").remove(0);
    let second = ok(svc, "DescribeLaunchConfigurations", &[("MaxRecords", "3"), ("NextToken", &token)]).await;
    assert_eq!(values(&second, "LaunchConfigurationName"), ["lc-4"]);
    assert!(values(&second, "NextToken").is_empty());
    assert_eq!(
        refused(svc, "DescribeLaunchConfigurations", &[("NextToken", "garbage")]).await.code,
        "InvalidNextToken"
    );

    ok(
        svc,
        "CreateAutoScalingGroup",
        &[
            ("AutoScalingGroupName", "uses-lc-1"),
            ("LaunchConfigurationName", "lc-1"),
            ("MinSize", "0"),
            ("MaxSize", "1"),
            ("AvailabilityZones.member.1", "us-east-1a"),
        ],
    )
    .await;
    let e = refused(svc, "DeleteLaunchConfiguration", &[("LaunchConfigurationName", "lc-1")]).await;
    assert_eq!(e.code, "ResourceInUse");
    assert!(e.message.contains("uses-lc-1"), "{}", e.message);
    ok(svc, "DeleteAutoScalingGroup", &[("AutoScalingGroupName", "uses-lc-1")]).await;
    ok(svc, "DeleteLaunchConfiguration", &[("LaunchConfigurationName", "lc-1")]).await;
    assert_eq!(
        refused(svc, "DeleteLaunchConfiguration", &[("LaunchConfigurationName", "lc-1")]).await.code,
        "ValidationError"
    );
}

#[tokio::test]
async fn groups_are_checked_as_aws_checks_them() {
    let s = setup().await;
    let svc = &s.svc;
    ok(
        svc,
        "CreateLaunchConfiguration",
        &[("LaunchConfigurationName", "lc"), ("ImageId", "flotilla:simulated"), ("InstanceType", "t3.micro")],
    )
    .await;
    let base = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, &str)> = vec![
            ("AutoScalingGroupName", "g"),
            ("LaunchConfigurationName", "lc"),
            ("MinSize", "1"),
            ("MaxSize", "3"),
            ("AvailabilityZones.member.1", "us-east-1a"),
        ];
        for (k, v) in extra {
            p.retain(|(pk, _)| pk != k);
            p.push((k, v));
        }
        p
    };
    /// (parameters changed, code, start of the message)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("DesiredCapacity", "5")],
            "ValidationError",
            "Desired capacity:5 must be between the specified min size:1 and max size:3",
        ),
        (&[("MinSize", "4")], "ValidationError", "Max bound, 3, must be greater than or equal to min bound, 4"),
        (
            &[("LaunchConfigurationName", "nope")],
            "ValidationError",
            "Launch configuration name not found - Launch configuration nope not found",
        ),
        (
            &[("AvailabilityZones.member.1", "eu-west-1a")],
            "ValidationError",
            "The availability zone eu-west-1a is not legal",
        ),
        (&[("TargetGroupARNs.member.1", "arn:tg")], "ValidationError", "Target groups are not supported"),
        (
            &[("TerminationPolicies.member.1", "Whatever")],
            "ValidationError",
            "Termination policy Whatever is not one of",
        ),
        (&[("Tags.member.1.Key", "aws:x")], "ValidationError", "reserved"),
    ];
    for (extra, code, message) in cases {
        let e = refused(svc, "CreateAutoScalingGroup", &base(extra)).await;
        assert_eq!(e.code, *code, "{extra:?}: {}", e.message);
        assert!(e.message.contains(message), "{extra:?}: {}", e.message);
    }
    let no_zone: Vec<(&str, &str)> =
        base(&[]).into_iter().filter(|(k, _)| !k.starts_with("AvailabilityZones")).collect();
    let e = refused(svc, "CreateAutoScalingGroup", &no_zone).await;
    assert_eq!(e.message, "At least one Availability Zone or VPC Subnet is required.");
    let no_lc: Vec<(&str, &str)> = base(&[]).into_iter().filter(|(k, _)| *k != "LaunchConfigurationName").collect();
    assert!(
        refused(svc, "CreateAutoScalingGroup", &no_lc).await.message.starts_with("Valid requests must contain either")
    );
    let mut many_tags = base(&[]);
    let keys: Vec<(String, String)> = (1..=51).map(|i| (format!("Tags.member.{i}.Key"), format!("k{i}"))).collect();
    many_tags.extend(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(refused(svc, "CreateAutoScalingGroup", &many_tags).await.code, "LimitExceeded");

    ok(
        svc,
        "CreateAutoScalingGroup",
        &base(&[
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "a"),
            ("Tags.member.1.PropagateAtLaunch", "true"),
        ]),
    )
    .await;
    assert_eq!(refused(svc, "CreateAutoScalingGroup", &base(&[])).await.code, "AlreadyExists");
    let xml = ok(svc, "DescribeAutoScalingGroups", &[("AutoScalingGroupNames.member.1", "g")]).await;
    assert_eq!(values(&xml, "DesiredCapacity"), ["1"], "desired defaults to the minimum");
    assert_eq!(values(&xml, "Key"), ["team"]);
    assert_eq!(values(&xml, "TerminationPolicies"), ["<member>Default</member>"]);
    assert_eq!(values(&xml, "HealthCheckType"), ["EC2"]);
    let filtered = ok(
        svc,
        "DescribeAutoScalingGroups",
        &[("Filters.member.1.Name", "tag:team"), ("Filters.member.1.Values.member.1", "b")],
    )
    .await;
    assert!(values(&filtered, "AutoScalingGroupName").is_empty());
    let filtered = ok(
        svc,
        "DescribeAutoScalingGroups",
        &[("Filters.member.1.Name", "tag-key"), ("Filters.member.1.Values.member.1", "team")],
    )
    .await;
    assert_eq!(values(&filtered, "AutoScalingGroupName"), ["g"]);

    let e = refused(svc, "SetDesiredCapacity", &[("AutoScalingGroupName", "g"), ("DesiredCapacity", "4")]).await;
    assert_eq!(e.message, "New SetDesiredCapacity value 4 is above max value 3 for the AutoScalingGroup.");
    let e = refused(svc, "SetDesiredCapacity", &[("AutoScalingGroupName", "g"), ("DesiredCapacity", "0")]).await;
    assert_eq!(e.message, "New SetDesiredCapacity value 0 is below min value 1 for the AutoScalingGroup.");
    assert_eq!(
        refused(svc, "SetDesiredCapacity", &[("AutoScalingGroupName", "nope"), ("DesiredCapacity", "0")]).await.code,
        "ValidationError"
    );

    // A new minimum above the desired capacity raises it; a new maximum below lowers it.
    ok(svc, "UpdateAutoScalingGroup", &[("AutoScalingGroupName", "g"), ("MinSize", "2")]).await;
    assert_eq!(svc.describe_group("g").await.unwrap().unwrap().desired_capacity, 2);
    ok(svc, "UpdateAutoScalingGroup", &[("AutoScalingGroupName", "g"), ("MinSize", "0"), ("MaxSize", "1")]).await;
    let info = svc.describe_group("g").await.unwrap().unwrap();
    assert_eq!((info.min_size, info.max_size, info.desired_capacity), (0, 1, 1));
    let e = refused(svc, "UpdateAutoScalingGroup", &[("AutoScalingGroupName", "g"), ("DesiredCapacity", "2")]).await;
    assert_eq!(e.code, "ValidationError");
    assert_eq!(
        refused(svc, "UpdateAutoScalingGroup", &[("AutoScalingGroupName", "g"), ("LaunchConfigurationName", "nope")])
            .await
            .code,
        "ValidationError"
    );

    // By ARN too, as ECS names groups.
    let arn = info.arn.clone();
    assert_eq!(svc.describe_group(&arn).await.unwrap().unwrap().name, "g");
    assert_eq!(
        svc.describe_group("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:x:autoScalingGroupName/g")
            .await
            .unwrap(),
        None
    );
    assert_eq!(svc.describe_group("nope").await.unwrap(), None);
}

/// The fake agents' arguments, by instance id.
fn agent_flag(dir: &Path, id: &str, flag: &str) -> Option<String> {
    let args = std::fs::read_to_string(dir.join("data/instances").join(id).join("args")).ok()?;
    let args: Vec<&str> = args.lines().collect();
    args.iter().position(|a| *a == flag).map(|p| args[p + 1].to_string())
}

async fn wait_for_args(dir: &Path, id: &str) {
    for _ in 0..100 {
        if agent_flag(dir, id, "--cluster").is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the agent of {id} did not start");
}

fn live_ids(info: &GroupInfo) -> Vec<String> {
    info.instances.iter().map(|i| i.instance_id.clone()).collect()
}

#[tokio::test]
async fn a_group_scales_out_and_in_around_protected_instances() {
    let s = setup().await;
    let svc = &s.svc;
    group_of(svc, "flotilla:simulated", "web", "0").await;
    reconcile(svc).await;
    assert!(svc.describe_group("web").await.unwrap().unwrap().instances.is_empty());

    svc.set_desired_capacity("web", 2).await.unwrap();
    reconcile(svc).await;
    let info = svc.describe_group("web").await.unwrap().unwrap();
    assert_eq!(info.instances.len(), 2);
    assert!(info.instances.iter().all(|i| i.lifecycle_state == "InService" && i.health_status == "Healthy"));
    let zones: Vec<&str> = info.instances.iter().map(|i| i.availability_zone.as_str()).collect();
    assert!(zones.contains(&"us-east-1a") && zones.contains(&"us-east-1b"), "spread over zones: {zones:?}");
    for i in &info.instances {
        wait_for_args(s.dir.path(), &i.instance_id).await;
        assert_eq!(agent_flag(s.dir.path(), &i.instance_id, "--cluster").as_deref(), Some("prod"));
        assert_eq!(agent_flag(s.dir.path(), &i.instance_id, "--cpu").as_deref(), Some("2048"));
        assert_eq!(agent_flag(s.dir.path(), &i.instance_id, "--memory").as_deref(), Some("1024"));
        assert_eq!(agent_flag(s.dir.path(), &i.instance_id, "--ec2-instance-id"), Some(i.instance_id.clone()));
    }
    let xml = ok(svc, "DescribeScalingActivities", &[("AutoScalingGroupName", "web")]).await;
    let descriptions = values(&xml, "Description");
    assert_eq!(descriptions.len(), 2);
    assert!(descriptions.iter().all(|d| d.starts_with("Launching a new EC2 instance: i-")), "{descriptions:?}");
    assert_eq!(values(&xml, "StatusCode"), ["Successful", "Successful"]);
    assert!(
        values(&xml, "Cause")[0]
            .contains("a user request explicitly set group desired capacity changing the desired capacity from 0 to 2")
    );

    let ids = live_ids(&info);
    let protected = ids[0].clone();
    let e = refused(
        svc,
        "SetInstanceProtection",
        &[
            ("AutoScalingGroupName", "web"),
            ("InstanceIds.member.1", "i-0123456789abcdef0"),
            ("ProtectedFromScaleIn", "true"),
        ],
    )
    .await;
    assert_eq!(e.code, "ValidationError");
    ok(
        svc,
        "SetInstanceProtection",
        &[("AutoScalingGroupName", "web"), ("InstanceIds.member.1", &protected), ("ProtectedFromScaleIn", "true")],
    )
    .await;
    let xml = ok(svc, "DescribeAutoScalingInstances", &[("InstanceIds.member.1", &protected)]).await;
    assert_eq!(values(&xml, "ProtectedFromScaleIn"), ["true"]);
    assert_eq!(values(&xml, "HealthStatus"), ["HEALTHY"]);

    svc.set_desired_capacity("web", 0).await.unwrap();
    reconcile(svc).await;
    let info = svc.describe_group("web").await.unwrap().unwrap();
    assert_eq!(live_ids(&info), std::slice::from_ref(&protected), "the protected instance stays");
    assert_eq!(info.desired_capacity, 0);
    let xml = ok(svc, "DescribeScalingActivities", &[("AutoScalingGroupName", "web"), ("MaxRecords", "1")]).await;
    assert_eq!(values(&xml, "Description"), [format!("Terminating EC2 instance: {}", ids[1])]);
    assert!(values(&xml, "Cause")[0].contains("shrinking the capacity from 2 to 1"), "{xml}");
    assert_eq!(values(&xml, "NextToken").len(), 1);

    // Unprotected (through the API ECS uses), it goes at the next pass.
    svc.set_instance_protection("web", std::slice::from_ref(&protected), false).await.unwrap();
    reconcile(svc).await;
    assert!(svc.describe_group("web").await.unwrap().unwrap().instances.is_empty());
    let e = refused(
        svc,
        "SetInstanceProtection",
        &[("AutoScalingGroupName", "web"), ("InstanceIds.member.1", &protected), ("ProtectedFromScaleIn", "true")],
    )
    .await;
    assert_eq!(e.code, "ValidationError");
}

#[tokio::test]
async fn terminating_an_instance_replaces_it_or_shrinks_the_group() {
    let s = setup().await;
    let svc = &s.svc;
    group_of(svc, "flotilla:simulated", "t", "2").await;
    reconcile(svc).await;
    let ids = live_ids(&svc.describe_group("t").await.unwrap().unwrap());
    assert_eq!(ids.len(), 2);

    let xml = ok(
        svc,
        "TerminateInstanceInAutoScalingGroup",
        &[("InstanceId", &ids[0]), ("ShouldDecrementDesiredCapacity", "false")],
    )
    .await;
    assert_eq!(values(&xml, "StatusCode"), ["InProgress"]);
    assert_eq!(values(&xml, "Description"), [format!("Terminating EC2 instance: {}", ids[0])]);
    assert!(
        values(&xml, "Cause")[0]
            .ends_with(&format!("instance {} was taken out of service in response to a user request.", ids[0]))
    );
    reconcile(svc).await;
    let after = live_ids(&svc.describe_group("t").await.unwrap().unwrap());
    assert_eq!(after.len(), 2, "replaced");
    assert!(!after.contains(&ids[0]) && after.contains(&ids[1]));

    ok(
        svc,
        "TerminateInstanceInAutoScalingGroup",
        &[("InstanceId", &ids[1]), ("ShouldDecrementDesiredCapacity", "true")],
    )
    .await;
    let info = svc.describe_group("t").await.unwrap().unwrap();
    assert_eq!(info.desired_capacity, 1);
    assert_eq!(info.instances.iter().find(|i| i.instance_id == ids[1]).unwrap().lifecycle_state, "Terminating");
    let e = refused(svc, "DeleteAutoScalingGroup", &[("AutoScalingGroupName", "t")]).await;
    assert_eq!(e.code, "ScalingActivityInProgress", "{}", e.message);
    reconcile(svc).await;
    assert_eq!(svc.describe_group("t").await.unwrap().unwrap().instances.len(), 1);

    let e = refused(
        svc,
        "TerminateInstanceInAutoScalingGroup",
        &[("InstanceId", "i-0123456789abcdef0"), ("ShouldDecrementDesiredCapacity", "true")],
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("ValidationError", "Instance Id not found - No managed instance found for instance ID: i-0123456789abcdef0")
    );

    // Deleting: refused while instances remain, then forced.
    let e = refused(svc, "DeleteAutoScalingGroup", &[("AutoScalingGroupName", "t")]).await;
    assert_eq!(e.code, "ResourceInUse");
    let last = live_ids(&svc.describe_group("t").await.unwrap().unwrap());
    ok(
        svc,
        "SetInstanceProtection",
        &[("AutoScalingGroupName", "t"), ("InstanceIds.member.1", &last[0]), ("ProtectedFromScaleIn", "true")],
    )
    .await;
    ok(svc, "DeleteAutoScalingGroup", &[("AutoScalingGroupName", "t"), ("ForceDelete", "true")]).await;
    let xml = ok(svc, "DescribeAutoScalingGroups", &[("AutoScalingGroupNames.member.1", "t")]).await;
    assert_eq!(values(&xml, "Status"), ["Delete in progress"]);
    let e = refused(svc, "SetDesiredCapacity", &[("AutoScalingGroupName", "t"), ("DesiredCapacity", "0")]).await;
    assert_eq!(e.code, "ValidationError");
    reconcile(svc).await;
    assert_eq!(svc.describe_group("t").await.unwrap(), None, "gone with its protected instance");
    let xml = ok(svc, "DescribeScalingActivities", &[("AutoScalingGroupName", "t")]).await;
    assert!(values(&xml, "ActivityId").is_empty(), "a deleted group's activities are hidden");
    let xml =
        ok(svc, "DescribeScalingActivities", &[("AutoScalingGroupName", "t"), ("IncludeDeletedGroups", "true")]).await;
    assert_eq!(values(&xml, "ActivityId").len(), 6);
    assert!(values(&xml, "AutoScalingGroupState").iter().all(|s| s == "Deleted"));
}

#[tokio::test]
async fn an_unknown_image_without_a_launch_command_fails_and_backs_off() {
    let s = setup().await;
    let svc = &s.svc;
    group_of(svc, "ami-0123456789abcdef0", "ami", "2").await;
    reconcile(svc).await;
    assert!(svc.describe_group("ami").await.unwrap().unwrap().instances.is_empty());
    let xml = ok(svc, "DescribeScalingActivities", &[("AutoScalingGroupName", "ami")]).await;
    assert_eq!(values(&xml, "StatusCode"), ["Failed"], "one launch probes, not one per missing instance");
    let message = values(&xml, "StatusMessage").remove(0);
    assert!(
        message.contains("No launcher for image id &apos;ami-0123456789abcdef0&apos;")
            || message.contains("No launcher for image id 'ami-0123456789abcdef0'"),
        "{message}"
    );
    assert!(values(&xml, "Description")[0].starts_with("Launching a new EC2 instance.  Status Reason: No launcher"));
    // Backing off: the next pass tries nothing.
    reconcile(svc).await;
    let xml = ok(svc, "DescribeScalingActivities", &[("AutoScalingGroupName", "ami")]).await;
    assert_eq!(values(&xml, "StatusCode").len(), 1);
    let group = svc.store().group("ami").await.unwrap().unwrap();
    assert_eq!(group.launch_failures, 1);

    // With a launch command, the next try (once due) works.
    let out = s.dir.path().join("launched");
    svc.set_instance_commands(Some(format!("echo $FLOTILLA_INSTANCE_ID >> {}", out.display())), None);
    let mut due = group.clone();
    due.retry_launch_at = Some(flotilla_core::time::Timestamp(0));
    svc.store().commit(&mut store::Changes { group: Some(due), ..Default::default() }).await.unwrap();
    reconcile(svc).await;
    let info = svc.describe_group("ami").await.unwrap().unwrap();
    assert_eq!(info.instances.len(), 1, "one probe launch");
    assert_eq!(svc.store().group("ami").await.unwrap().unwrap().launch_failures, 0, "a success resets the backoff");
    reconcile(svc).await;
    assert_eq!(svc.describe_group("ami").await.unwrap().unwrap().instances.len(), 2);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn a_restarted_control_plane_adopts_running_agents_and_relaunches_gone_ones() {
    let s = setup().await;
    group_of(&s.svc, "flotilla:simulated", "r", "2").await;
    reconcile(&s.svc).await;
    let instances = s.svc.store().instances_of("r").await.unwrap();
    let records: Vec<ProcessRecord> = instances.iter().map(|i| i.process.clone().unwrap()).collect();
    let activities = values(&ok(&s.svc, "DescribeScalingActivities", &[]).await, "ActivityId").len();

    // A second control plane (the first died without stopping anything) adopts both.
    let restarted = service(s.dir.path(), &s.binary).await;
    reconcile(&restarted).await;
    let after = restarted.store().instances_of("r").await.unwrap();
    assert_eq!(after.iter().map(|i| i.process.clone().unwrap()).collect::<Vec<_>>(), records, "the same processes");
    assert_eq!(
        values(&ok(&restarted, "DescribeScalingActivities", &[]).await, "ActivityId").len(),
        activities,
        "no new activity"
    );
    assert!(instances.iter().all(|i| restarted.launcher.is_tracked(&i.id)));

    // Stopped at shutdown, they are launched again in place by the next one.
    restarted.close().await;
    s.svc.launcher.stop_all().await;
    assert!(records.iter().zip(&instances).all(|(r, i)| !process::is_running(r, &i.id)));
    let third = service(s.dir.path(), &s.binary).await;
    reconcile(&third).await;
    let again = third.store().instances_of("r").await.unwrap();
    assert_eq!(
        again.iter().map(|i| &i.id).collect::<Vec<_>>(),
        instances.iter().map(|i| &i.id).collect::<Vec<_>>(),
        "the same instances"
    );
    for (i, old) in again.iter().zip(&records) {
        let new = i.process.clone().unwrap();
        assert_ne!((new.pid, new.start_ticks), (old.pid, old.start_ticks), "a new process");
        assert!(process::is_running(&new, &i.id));
        assert_eq!(i.lifecycle_state, model::Lifecycle::InService);
    }
    third.close().await;
}

#[tokio::test]
async fn an_agent_that_dies_is_replaced_and_one_dying_at_once_backs_off() {
    let s = setup().await;
    let svc = &s.svc;
    group_of(svc, "flotilla:simulated", "h", "1").await;
    reconcile(svc).await;
    let mut instance = svc.store().instances_of("h").await.unwrap().remove(0);
    // Old enough that its death is not a failed launch.
    instance.launched_at = flotilla_core::time::Timestamp(instance.launched_at.0 - 3_600_000);
    svc.store().commit(&mut store::Changes { instances: vec![instance.clone()], ..Default::default() }).await.unwrap();
    process::signal(instance.process.clone().unwrap().pid, true);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    reconcile(svc).await;
    let replaced = svc.store().instances_of("h").await.unwrap();
    assert_eq!(replaced.len(), 1);
    assert_ne!(replaced[0].id, instance.id, "a new instance");
    let xml = ok(svc, "DescribeScalingActivities", &[("AutoScalingGroupName", "h"), ("MaxRecords", "2")]).await;
    let causes = values(&xml, "Cause");
    assert!(
        causes.iter().any(|c| c.contains("an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped")),
        "{causes:?}"
    );
    assert!(values(&xml, "StatusMessage").iter().any(|m| m.contains("exited")), "{xml}");
    assert!(values(&xml, "Description").contains(&format!("Terminating EC2 instance: {}", instance.id)));

    // A death right after the launch counts as a failed launch: no replacement yet.
    process::signal(replaced[0].process.clone().unwrap().pid, true);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    reconcile(svc).await;
    assert!(svc.store().instances_of("h").await.unwrap().is_empty());
    assert_eq!(svc.store().group("h").await.unwrap().unwrap().launch_failures, 1);
    svc.close().await;
}

#[tokio::test]
async fn every_operation_answers_a_bare_request_without_failing() {
    let s = setup().await;
    for op in OPERATIONS {
        match call(&s.svc, op.name, &[]).await {
            Ok(xml) => assert!(xml.contains(&format!("<{}Response", op.name)), "{}: {xml}", op.name),
            Err(e) => assert!(!e.status.is_server_error(), "{}: {e}", op.name),
        }
    }
    let e = refused(&s.svc, "SetDesiredCapacity", &[("AutoScalingGroupName", "g"), ("DesiredCapacity", "two")]).await;
    assert_eq!(e.code, "ValidationError");
}
