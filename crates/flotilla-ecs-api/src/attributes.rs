//! Attribute operations: PutAttributes, DeleteAttributes, ListAttributes. Attributes
//! live on container instances, where placement constraints read them.

use crate::EcsService;
use crate::error::EcsError;
use crate::wire::{decode_token, finish_page, max_results, required};
use flotilla_db::retry_on_conflict;
use flotilla_domain::EcsArns;
use flotilla_domain::container_instance::{Attribute, ContainerInstance, InstanceStatus};
use flotilla_store::Page;
use serde::{Deserialize, Serialize};

/// Most attributes one call may carry, and most custom attributes an instance may have.
const MAX_ATTRIBUTES: usize = 10;
const TARGET_TYPE: &str = "container-instance";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttributeShape {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_id: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct AttributesInput {
    cluster: Option<String>,
    attributes: Option<Vec<AttributeShape>>,
}

#[derive(Serialize)]
pub(crate) struct AttributesOutput {
    attributes: Vec<AttributeShape>,
}

fn check_attribute(a: &AttributeShape, with_value: bool) -> Result<(), EcsError> {
    let name_ok = !a.name.is_empty()
        && a.name.len() <= 128
        && a.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./@".contains(&b));
    if !name_ok {
        return Err(EcsError::invalid(format!(
            "attributes: name '{}' must be 1 to 128 letters, numbers, hyphens, underscores, periods, at signs or slashes",
            a.name
        )));
    }
    if with_value
        && let Some(v) = &a.value
        && (v.is_empty() || v.len() > 128 || v.chars().any(|c| c.is_control()))
    {
        return Err(EcsError::invalid(format!(
            "attributes: value of '{}' must be 1 to 128 printable characters",
            a.name
        )));
    }
    if let Some(t) = &a.target_type
        && t != TARGET_TYPE
    {
        return Err(EcsError::invalid(format!("attributes: targetType '{t}' is not supported; use {TARGET_TYPE}")));
    }
    if a.target_id.is_none() {
        return Err(EcsError::invalid(format!("attributes: '{}' needs a targetId", a.name)));
    }
    Ok(())
}

/// Applies `change` to the attributes of each targeted instance, each instance in
/// one optimistic update.
async fn change_attributes(svc: &EcsService, input: AttributesInput, put: bool) -> Result<AttributesOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let attributes = required(input.attributes, "attributes")?;
    if attributes.is_empty() || attributes.len() > MAX_ATTRIBUTES {
        return Err(EcsError::invalid(format!("attributes: give 1 to {MAX_ATTRIBUTES} attributes")));
    }
    for a in &attributes {
        check_attribute(a, put)?;
    }
    let mut out = Vec::new();
    for a in attributes {
        let target = a.target_id.clone().unwrap_or_default();
        let known = svc.find_instance(&cluster.name, &target).await?;
        let Some(ci) = known.filter(|ci| ci.status != InstanceStatus::Inactive) else {
            return Err(EcsError::TargetNotFound(format!("Could not find {target}.")));
        };
        update_instance(svc, ci, |attrs| {
            attrs.retain(|x| x.name != a.name);
            if put {
                attrs.push(Attribute { name: a.name.clone(), value: a.value.clone() });
                if attrs.len() > MAX_ATTRIBUTES + 64 {
                    return Err(EcsError::AttributeLimitExceeded(format!(
                        "the container instance {target} has too many attributes"
                    )));
                }
            }
            Ok(())
        })
        .await?;
        out.push(AttributeShape {
            target_type: Some(TARGET_TYPE.into()),
            target_id: Some(
                svc.account.container_instance_arn(&cluster.name, &svc.instance_id(&cluster.name, &target)?),
            ),
            ..a
        });
    }
    Ok(AttributesOutput { attributes: out })
}

async fn update_instance(
    svc: &EcsService,
    ci: ContainerInstance,
    change: impl Fn(&mut Vec<Attribute>) -> Result<(), EcsError>,
) -> Result<(), EcsError> {
    let id = &ci.id.clone();
    let change = &change;
    let read = &std::sync::Mutex::new(Some(ci));
    retry_on_conflict(8, EcsError::is_conflict, move || async move {
        // The instance as the caller read it first, then as stored after a conflict.
        let first = read.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut ci = match first {
            Some(ci) => ci,
            None => svc
                .store
                .get_container_instance(id)
                .await?
                .ok_or_else(|| EcsError::TargetNotFound(format!("Could not find {id}.")))?,
        };
        change(&mut ci.attributes)?;
        svc.store.update_container_instance(&ci).await?;
        Ok(())
    })
    .await
}

pub(crate) async fn put_attributes(svc: &EcsService, input: AttributesInput) -> Result<AttributesOutput, EcsError> {
    change_attributes(svc, input, true).await
}

pub(crate) async fn delete_attributes(svc: &EcsService, input: AttributesInput) -> Result<AttributesOutput, EcsError> {
    change_attributes(svc, input, false).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListAttributesInput {
    cluster: Option<String>,
    target_type: Option<String>,
    attribute_name: Option<String>,
    attribute_value: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListAttributesOutput {
    attributes: Vec<AttributeShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_attributes(
    svc: &EcsService,
    input: ListAttributesInput,
) -> Result<ListAttributesOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let target_type = required(input.target_type, "targetType")?;
    if target_type != TARGET_TYPE {
        return Err(EcsError::invalid(format!("targetType '{target_type}' is not supported; use {TARGET_TYPE}")));
    }
    if input.attribute_value.is_some() && input.attribute_name.is_none() {
        return Err(EcsError::invalid("attributeValue needs attributeName"));
    }
    let limit = max_results(input.max_results, 100)? as usize;
    let after = input.next_token.as_deref().map(decode_token).transpose()?;
    let loads =
        svc.store.list_container_instances(&cluster.name, None, false, Page { after: None, limit: u32::MAX }).await?;
    let mut all: Vec<(String, AttributeShape)> = Vec::new();
    for l in loads.iter().filter(|l| l.instance.status != InstanceStatus::Inactive) {
        let arn = svc.account.container_instance_arn(&cluster.name, &l.instance.id);
        for a in &l.instance.attributes {
            if input.attribute_name.as_ref().is_some_and(|n| n != &a.name) {
                continue;
            }
            if input.attribute_value.is_some() && input.attribute_value != a.value {
                continue;
            }
            let key = format!("{}\u{0}{}", l.instance.id, a.name);
            all.push((
                key,
                AttributeShape {
                    name: a.name.clone(),
                    value: a.value.clone(),
                    target_type: Some(TARGET_TYPE.into()),
                    target_id: Some(arn.clone()),
                },
            ));
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let page: Vec<(String, AttributeShape)> =
        all.into_iter().filter(|(k, _)| after.as_ref().is_none_or(|a| k > a)).take(limit + 1).collect();
    let (page, next_token) = finish_page(page, limit, |(k, _)| k.clone());
    Ok(ListAttributesOutput { attributes: page.into_iter().map(|(_, a)| a).collect(), next_token })
}
