//! DeleteAlarms (all the alarms named, or none when one does not exist),
//! SetAlarmState (the state and reason given, until the next evaluation says
//! otherwise; a change of state runs its actions) and Enable/DisableAlarmActions
//! (names not found are skipped).

use super::{Empty, check_alarm_name, check_alarm_names, state_param};
use crate::MetricsService;
use crate::error::{MetricsError, Result};
use crate::model::required;
use serde::Deserialize;

const MAX_REASON: usize = 1023;
const MAX_REASON_DATA: usize = 4000;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NamesInput {
    alarm_names: Option<Vec<String>>,
}

pub(crate) async fn delete(svc: &MetricsService, input: NamesInput) -> Result<Empty> {
    let names = check_alarm_names(input.alarm_names.as_ref(), "AlarmNames")?;
    svc.store.delete_alarms(&names).await?;
    Ok(Empty {})
}

pub(crate) async fn enable_actions(svc: &MetricsService, input: NamesInput) -> Result<Empty> {
    let names = check_alarm_names(input.alarm_names.as_ref(), "AlarmNames")?;
    svc.store.set_actions_enabled(&names, true).await?;
    Ok(Empty {})
}

pub(crate) async fn disable_actions(svc: &MetricsService, input: NamesInput) -> Result<Empty> {
    let names = check_alarm_names(input.alarm_names.as_ref(), "AlarmNames")?;
    svc.store.set_actions_enabled(&names, false).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SetStateInput {
    alarm_name: Option<String>,
    state_value: Option<String>,
    state_reason: Option<String>,
    state_reason_data: Option<String>,
}

pub(crate) async fn set_state(svc: &MetricsService, input: SetStateInput) -> Result<Empty> {
    let name = required(input.alarm_name.as_deref(), "AlarmName")?;
    check_alarm_name(name, "AlarmName")?;
    let state = state_param(required(input.state_value.as_deref(), "StateValue")?, "StateValue")?;
    let reason = required(input.state_reason.as_deref(), "StateReason")?;
    if reason.chars().count() > MAX_REASON {
        return Err(MetricsError::invalid("StateReason", "(too long)", "a reason has at most 1023 characters"));
    }
    if let Some(data) = &input.state_reason_data {
        if data.chars().count() > MAX_REASON_DATA {
            return Err(MetricsError::invalid("StateReasonData", "(too long)", "it has at most 4000 characters"));
        }
        if serde_json::from_str::<serde_json::Value>(data).is_err() {
            return Err(MetricsError::InvalidFormat(format!("The StateReasonData given is not valid JSON: {data}")));
        }
    }
    svc.store.set_alarm_state(name, state, reason, input.state_reason_data.as_deref()).await?;
    svc.alarm_wakeup.notify_one();
    Ok(Empty {})
}
