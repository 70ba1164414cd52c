//! The operations: schedules, schedule groups and their tags.

use crate::SchedulerService;
use crate::error::SchedulerError;
use crate::model::{DEFAULT_GROUP, FlexibleTimeWindow, Schedule, ScheduleGroup, Tag, Target, check_name};
use flotilla_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, SchedulerError>;

fn now_s() -> f64 {
    Timestamp::now().0 as f64 / 1000.0
}

fn required<T>(value: Option<T>, name: &str) -> Result<T> {
    value.ok_or_else(|| SchedulerError::Validation(format!("{name} is required.")))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ScheduleInput {
    name: Option<String>,
    group_name: Option<String>,
    schedule_expression: Option<String>,
    schedule_expression_timezone: Option<String>,
    start_date: Option<f64>,
    end_date: Option<f64>,
    description: Option<String>,
    state: Option<String>,
    kms_key_arn: Option<String>,
    target: Option<Target>,
    flexible_time_window: Option<FlexibleTimeWindow>,
    action_after_completion: Option<String>,
    #[allow(dead_code)]
    client_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ScheduleArnOutput {
    schedule_arn: String,
}

impl SchedulerService {
    /// Checks a schedule and stores it with its first fire time.
    async fn store_schedule(&self, input: ScheduleInput, create: bool) -> Result<ScheduleArnOutput> {
        let name = required(input.name, "Name")?;
        let group_name = input.group_name.unwrap_or_else(|| DEFAULT_GROUP.into());
        check_name("GroupName", &group_name)?;
        if self.store.get_group(&group_name).await?.is_none() {
            return Err(SchedulerError::NotFound(format!("Schedule group {group_name} does not exist.")));
        }
        let existing = self.store.get_schedule(&group_name, &name).await?;
        let now = now_s();
        if let Some(d) = &input.description
            && d.len() > 512
        {
            return Err(SchedulerError::Validation("Description is at most 512 characters.".into()));
        }
        let schedule = Schedule {
            name: name.clone(),
            group_name: group_name.clone(),
            schedule_expression: required(input.schedule_expression, "ScheduleExpression")?,
            schedule_expression_timezone: input.schedule_expression_timezone,
            start_date: input.start_date,
            end_date: input.end_date,
            description: input.description,
            state: input.state.unwrap_or_else(|| "ENABLED".into()),
            kms_key_arn: input.kms_key_arn,
            target: required(input.target, "Target")?,
            flexible_time_window: required(input.flexible_time_window, "FlexibleTimeWindow")?,
            action_after_completion: input.action_after_completion.unwrap_or_else(|| "NONE".into()),
            creation_date: existing.as_ref().map_or(now, |e| e.creation_date),
            last_modification_date: now,
        };
        let timing = schedule.check()?;
        let now_ms = (now * 1000.0) as i64;
        // A fire at this very instant counts (a rate schedule without a start fires at once).
        let next = if schedule.state == "ENABLED" { timing.next_after(now_ms - 1) } else { None };
        if !self.store.put_schedule(&schedule, next, create).await? {
            return Err(if create {
                SchedulerError::Conflict(format!("Schedule {name} already exists."))
            } else {
                SchedulerError::NotFound(format!("Schedule {name} does not exist."))
            });
        }
        self.changed.notify_one();
        Ok(ScheduleArnOutput { schedule_arn: self.schedule_arn(&group_name, &name) })
    }

    fn schedule_json(&self, s: &Schedule) -> Value {
        let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
        v["Arn"] = json!(self.schedule_arn(&s.group_name, &s.name));
        v
    }
}

pub(crate) async fn create_schedule(svc: &SchedulerService, input: ScheduleInput) -> Result<ScheduleArnOutput> {
    svc.store_schedule(input, true).await
}

pub(crate) async fn update_schedule(svc: &SchedulerService, input: ScheduleInput) -> Result<ScheduleArnOutput> {
    svc.store_schedule(input, false).await
}

#[derive(Deserialize)]
pub(crate) struct ScheduleRef {
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "groupName")]
    group_name: Option<String>,
}

impl ScheduleRef {
    fn parts(self) -> Result<(String, String)> {
        Ok((self.group_name.unwrap_or_else(|| DEFAULT_GROUP.into()), required(self.name, "Name")?))
    }
}

pub(crate) async fn get_schedule(svc: &SchedulerService, input: ScheduleRef) -> Result<Value> {
    let (group, name) = input.parts()?;
    let s = svc
        .store
        .get_schedule(&group, &name)
        .await?
        .ok_or_else(|| SchedulerError::NotFound(format!("Schedule {name} does not exist.")))?;
    Ok(svc.schedule_json(&s))
}

pub(crate) async fn delete_schedule(svc: &SchedulerService, input: ScheduleRef) -> Result<Value> {
    let (group, name) = input.parts()?;
    if !svc.store.delete_schedule(&group, &name).await? {
        return Err(SchedulerError::NotFound(format!("Schedule {name} does not exist.")));
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListSchedulesInput {
    schedule_group: Option<String>,
    name_prefix: Option<String>,
    state: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// Cuts a page from names in order: the token is the last name returned.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    after: Option<String>,
    max: Option<i64>,
) -> Result<(Vec<T>, Option<String>)> {
    let limit = match max {
        None => 100,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => return Err(SchedulerError::Validation(format!("MaxResults {n} must be 1 to 100."))),
    };
    let mut rest: Vec<T> = match after {
        Some(a) => items.into_iter().filter(|i| key(i) > a).collect(),
        None => items,
    };
    let next = if rest.len() > limit { Some(key(&rest[limit - 1])) } else { None };
    rest.truncate(limit);
    Ok((rest, next))
}

pub(crate) async fn list_schedules(svc: &SchedulerService, input: ListSchedulesInput) -> Result<Value> {
    if let Some(s) = &input.state
        && s != "ENABLED"
        && s != "DISABLED"
    {
        return Err(SchedulerError::Validation(format!("State '{s}' is not one of ENABLED, DISABLED.")));
    }
    let all = svc.store.list_schedules(input.schedule_group.as_deref()).await?;
    let matching: Vec<Schedule> = all
        .into_iter()
        .filter(|s| input.name_prefix.as_deref().is_none_or(|p| s.name.starts_with(p)))
        .filter(|s| input.state.as_deref().is_none_or(|st| s.state == st))
        .collect();
    let (items, next) =
        page(matching, |s| format!("{}/{}", s.group_name, s.name), input.next_token, input.max_results)?;
    let summaries: Vec<Value> = items
        .iter()
        .map(|s| {
            json!({
                "Arn": svc.schedule_arn(&s.group_name, &s.name),
                "Name": s.name,
                "GroupName": s.group_name,
                "State": s.state,
                "CreationDate": s.creation_date,
                "LastModificationDate": s.last_modification_date,
                "Target": {"Arn": s.target.arn},
            })
        })
        .collect();
    let mut out = json!({ "Schedules": summaries });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GroupInput {
    name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

fn group_json(svc: &SchedulerService, g: &ScheduleGroup) -> Value {
    json!({
        "Arn": svc.group_arn(&g.name),
        "Name": g.name,
        "State": "ACTIVE",
        "CreationDate": g.creation_date,
        "LastModificationDate": g.last_modification_date,
    })
}

pub(crate) async fn create_group(svc: &SchedulerService, input: GroupInput) -> Result<Value> {
    let name = required(input.name, "Name")?;
    check_name("Name", &name)?;
    check_tags(&input.tags)?;
    let now = Timestamp::now().0 / 1000;
    let group = ScheduleGroup { name: name.clone(), creation_date: now, last_modification_date: now, tags: input.tags };
    if !svc.store.create_group(&group).await? {
        return Err(SchedulerError::Conflict(format!("Schedule group {name} already exists.")));
    }
    Ok(json!({ "ScheduleGroupArn": svc.group_arn(&name) }))
}

pub(crate) async fn get_group(svc: &SchedulerService, input: GroupInput) -> Result<Value> {
    let name = required(input.name, "Name")?;
    let g = svc
        .store
        .get_group(&name)
        .await?
        .ok_or_else(|| SchedulerError::NotFound(format!("Schedule group {name} does not exist.")))?;
    Ok(group_json(svc, &g))
}

pub(crate) async fn delete_group(svc: &SchedulerService, input: GroupInput) -> Result<Value> {
    let name = required(input.name, "Name")?;
    if name == DEFAULT_GROUP {
        return Err(SchedulerError::Validation("The default schedule group cannot be deleted.".into()));
    }
    if !svc.store.delete_group(&name).await? {
        return Err(SchedulerError::NotFound(format!("Schedule group {name} does not exist.")));
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListGroupsInput {
    name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub(crate) async fn list_groups(svc: &SchedulerService, input: ListGroupsInput) -> Result<Value> {
    let groups: Vec<ScheduleGroup> = svc
        .store
        .list_groups()
        .await?
        .into_iter()
        .filter(|g| input.name_prefix.as_deref().is_none_or(|p| g.name.starts_with(p)))
        .collect();
    let (items, next) = page(groups, |g| g.name.clone(), input.next_token, input.max_results)?;
    let mut out = json!({ "ScheduleGroups": items.iter().map(|g| group_json(svc, g)).collect::<Vec<_>>() });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

fn check_tags(tags: &[Tag]) -> Result<()> {
    if tags.len() > 200 {
        return Err(SchedulerError::Validation("At most 200 tags can be given.".into()));
    }
    for t in tags {
        if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
            return Err(SchedulerError::Validation(format!(
                "Tag '{}' must have a key of 1 to 128 characters and a value of at most 256.",
                t.key
            )));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagInput {
    resource_arn: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    /// One key or several (the query string repeats `TagKeys`).
    tag_keys: Option<Value>,
}

/// The group a tag call names (EventBridge Scheduler tags schedule groups).
async fn tagged_group(svc: &SchedulerService, arn: &Option<String>) -> Result<ScheduleGroup> {
    let arn = required(arn.clone(), "ResourceArn")?;
    let name = arn.rsplit_once(":schedule-group/").map(|(_, n)| n.to_string()).ok_or_else(|| {
        SchedulerError::Validation(format!(
            "ResourceArn {arn} is not a schedule group ARN; only schedule groups take tags."
        ))
    })?;
    svc.store
        .get_group(&name)
        .await?
        .ok_or_else(|| SchedulerError::NotFound(format!("Schedule group {name} does not exist.")))
}

pub(crate) async fn tag_resource(svc: &SchedulerService, input: TagInput) -> Result<Value> {
    let mut g = tagged_group(svc, &input.resource_arn).await?;
    for t in input.tags {
        g.tags.retain(|x| x.key != t.key);
        g.tags.push(t);
    }
    check_tags(&g.tags)?;
    svc.store.put_group(&g).await?;
    Ok(json!({}))
}

pub(crate) async fn untag_resource(svc: &SchedulerService, input: TagInput) -> Result<Value> {
    let mut g = tagged_group(svc, &input.resource_arn).await?;
    let keys: Vec<String> = match input.tag_keys {
        Some(Value::String(k)) => vec![k],
        Some(Value::Array(ks)) => ks.into_iter().filter_map(|k| k.as_str().map(str::to_string)).collect(),
        _ => return Err(SchedulerError::Validation("TagKeys is required.".into())),
    };
    g.tags.retain(|t| !keys.contains(&t.key));
    svc.store.put_group(&g).await?;
    Ok(json!({}))
}

pub(crate) async fn list_tags(svc: &SchedulerService, input: TagInput) -> Result<Value> {
    let g = tagged_group(svc, &input.resource_arn).await?;
    Ok(json!({ "Tags": g.tags }))
}
