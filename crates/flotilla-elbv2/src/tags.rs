//! AddTags, RemoveTags and DescribeTags on load balancers and target groups.

use crate::error::{ElbError, Result};
use crate::load_balancers::members;
use crate::model::{Listener, LoadBalancer, Rule, TargetGroup};
use crate::params::pairs;
use crate::{Answer, ElbService};
use flotilla_core::tag::{MAX_TAGS_PER_RESOURCE, Tag, TagError, validate_tags};
use flotilla_protocol::QueryRequest;

/// The request's `Tags`, checked: unique keys, AWS's key and value rules.
pub(crate) fn tags_of_request(q: &QueryRequest) -> Result<Vec<Tag>> {
    let tags: Vec<Tag> = pairs(q, "Tags")?.into_iter().map(|(key, value)| Tag { key, value }).collect();
    for (i, t) in tags.iter().enumerate() {
        if tags[..i].iter().any(|o| o.key == t.key) {
            return Err(ElbError::DuplicateTagKeys(format!("Tag key '{}' is duplicated", t.key)));
        }
    }
    validate_tags(&tags).map_err(|e| match e {
        TagError::TooMany(_) => ElbError::TooManyTags(e.to_string()),
        other => ElbError::validation(other.to_string()),
    })?;
    Ok(tags)
}

/// Checks that every ARN names a load balancer or target group that exists.
async fn existing(svc: &ElbService, arns: &[String]) -> Result<()> {
    if arns.is_empty() || arns.len() > 20 {
        return Err(ElbError::validation("ResourceArns must name 1 to 20 resources"));
    }
    for arn in arns {
        if arn.contains(":targetgroup/") {
            if svc.store.get::<TargetGroup>(arn).await?.is_none() {
                return Err(ElbError::TargetGroupNotFound(format!("Target group '{arn}' not found")));
            }
        } else if arn.contains(":listener-rule/") {
            if svc.store.get::<Rule>(arn).await?.is_none() {
                return Err(ElbError::RuleNotFound(format!("Rule '{arn}' not found")));
            }
        } else if arn.contains(":listener/") {
            if svc.store.get::<Listener>(arn).await?.is_none() {
                return Err(ElbError::ListenerNotFound(format!("Listener '{arn}' not found")));
            }
        } else if svc.store.get::<LoadBalancer>(arn).await?.is_none() {
            return Err(ElbError::LoadBalancerNotFound(format!("Load balancer '{arn}' not found")));
        }
    }
    Ok(())
}

fn resource_arns(q: &QueryRequest) -> Vec<String> {
    q.list("ResourceArns").into_iter().map(str::to_string).collect()
}

pub(crate) async fn add(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arns = resource_arns(q);
    let tags = tags_of_request(q)?;
    if tags.is_empty() {
        return Err(ElbError::validation("Tags must hold at least one tag"));
    }
    existing(svc, &arns).await?;
    svc.store.add_tags(&arns, &tags, MAX_TAGS_PER_RESOURCE).await?;
    Ok(Answer::empty())
}

pub(crate) async fn remove(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arns = resource_arns(q);
    let keys: Vec<String> = q.list("TagKeys").into_iter().map(str::to_string).collect();
    if keys.is_empty() {
        return Err(ElbError::validation("TagKeys must name at least one key"));
    }
    existing(svc, &arns).await?;
    svc.store.remove_tags(&arns, &keys).await?;
    Ok(Answer::empty())
}

pub(crate) async fn describe(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arns = resource_arns(q);
    existing(svc, &arns).await?;
    let mut described = Vec::new();
    for arn in arns {
        let tags = svc.store.tags(&arn).await?;
        described.push((arn, tags));
    }
    Ok(Answer::new(move |w| {
        members(w, "TagDescriptions", &described, |w, (arn, tags)| {
            w.element("ResourceArn", arn);
            members(w, "Tags", tags, |w, t| {
                w.element("Key", &t.key).element("Value", &t.value);
            });
        });
    }))
}
