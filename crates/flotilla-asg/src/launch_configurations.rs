//! CreateLaunchConfiguration, DescribeLaunchConfigurations, DeleteLaunchConfiguration.

use crate::error::{AsgError, Result};
use crate::instance_types::instance_type;
use crate::model::{LaunchConfiguration, check_name, launch_configuration_arn};
use crate::params::{boolean, page, required, string, strings};
use crate::store::{Created, Deleted};
use crate::user_data::{self, MAX_USER_DATA_CHARS};
use crate::{Answer, AsgService, MAX_LAUNCH_CONFIGURATIONS, xml};
use flotilla_core::time::Timestamp;
use flotilla_protocol::QueryRequest;

fn not_found(name: &str) -> AsgError {
    AsgError::validation(format!("Launch configuration name not found - Launch configuration {name} not found"))
}

pub(crate) async fn create(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "LaunchConfigurationName")?;
    check_name("LaunchConfigurationName", name).map_err(AsgError::Validation)?;
    if q.get("InstanceId").is_some() {
        return Err(AsgError::validation(
            "Creating a launch configuration from an instance (InstanceId) is not supported here; give ImageId and InstanceType",
        ));
    }
    let image_id = string(q, "ImageId", 255)?.filter(|i| !i.is_empty()).ok_or_else(|| {
        AsgError::validation(
            "ImageId is required: flotilla:simulated, flotilla:docker, or an image the launch command knows",
        )
    })?;
    let type_name = string(q, "InstanceType", 255)?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AsgError::validation("InstanceType is required"))?;
    if instance_type(type_name).is_none() {
        return Err(AsgError::validation(format!(
            "Invalid instance type: {type_name}. Flotilla knows AWS's common families (t2, t3, t3a, t4g, m5, m6i, m6g, m7i, c5, c6i, c6g, c7i, r5, r6i, r6g), e.g. t3.micro, m5.large, c5.large, r5.large"
        )));
    }
    let user_data = string(q, "UserData", MAX_USER_DATA_CHARS)?.filter(|u| !u.is_empty());
    if let Some(u) = user_data
        && user_data::decode(u).is_none()
    {
        return Err(AsgError::validation("Invalid BASE64 encoding of user data."));
    }
    let tenancy = string(q, "PlacementTenancy", 64)?;
    if let Some(t) = tenancy
        && !matches!(t, "default" | "dedicated")
    {
        return Err(AsgError::validation(format!("PlacementTenancy must be default or dedicated, not '{t}'")));
    }
    let lc = LaunchConfiguration {
        name: name.to_string(),
        arn: launch_configuration_arn(&svc.account, name),
        image_id: image_id.to_string(),
        instance_type: type_name.to_string(),
        user_data: user_data.map(str::to_string),
        key_name: string(q, "KeyName", 255)?.map(str::to_string),
        security_groups: strings(q, "SecurityGroups", 255, 100, AsgError::Validation)?,
        iam_instance_profile: string(q, "IamInstanceProfile", 1600)?.map(str::to_string),
        instance_monitoring: boolean(q, "InstanceMonitoring.Enabled")?.unwrap_or(true),
        ebs_optimized: boolean(q, "EbsOptimized")?.unwrap_or(false),
        associate_public_ip_address: boolean(q, "AssociatePublicIpAddress")?,
        placement_tenancy: tenancy.map(str::to_string),
        created_at: Timestamp::now(),
        version: 1,
    };
    match svc.store.create_launch_configuration(&lc, MAX_LAUNCH_CONFIGURATIONS).await? {
        Created::Created => Ok(Answer::empty()),
        Created::Exists => Err(AsgError::AlreadyExists(format!(
            "Launch Configuration by this name already exists - A launch configuration already exists with the name {name}"
        ))),
        Created::LimitReached | Created::NoLaunchConfiguration => Err(AsgError::LimitExceeded(format!(
            "You have reached the limit of {MAX_LAUNCH_CONFIGURATIONS} launch configurations; delete unused ones first"
        ))),
    }
}

pub(crate) async fn describe(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let names = strings(q, "LaunchConfigurationNames", 255, 50, AsgError::Validation)?;
    let (after, size) = page(q, 50, 100)?;
    let mut found = if names.is_empty() {
        svc.store.launch_configurations(after.as_deref(), size as i64 + 1).await?
    } else {
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        let mut found = Vec::new();
        for name in sorted.iter().filter(|n| after.as_ref().is_none_or(|a| n.as_str() > a.as_str())) {
            if let Some(lc) = svc.store.launch_configuration(name).await? {
                found.push(lc);
            }
        }
        found
    };
    let next = if found.len() > size {
        found.truncate(size);
        found.last().map(|lc| flotilla_core::paging::encode_token(&lc.name))
    } else {
        None
    };
    Ok(Answer::new(move |w| {
        xml::members(w, "LaunchConfigurations", &found, xml::launch_configuration);
        if let Some(t) = &next {
            w.element("NextToken", t);
        }
    }))
}

pub(crate) async fn delete(svc: &AsgService, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "LaunchConfigurationName")?;
    match svc.store.delete_launch_configuration(name).await? {
        Deleted::Deleted => Ok(Answer::empty()),
        Deleted::NotFound => Err(not_found(name)),
        Deleted::InUse(group) => Err(AsgError::ResourceInUse(format!(
            "Cannot delete launch configuration {name} because it is attached to AutoScalingGroup {group}"
        ))),
    }
}
