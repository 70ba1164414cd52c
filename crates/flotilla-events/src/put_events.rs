//! PutEvents, and the default bus as the control plane's [`EventSink`].
//!
//! Each entry becomes an event in AWS's envelope (`version`, `id`, `detail-type`,
//! `source`, `account`, `time`, `region`, `resources`, `detail`), is matched against
//! its bus's enabled rules (compiled into a `PatternSet` and cached until the bus's
//! generation moves), and each matched target's body is rendered (`Input`,
//! `InputPath`, `InputTransformer`). Every matched event goes into the outbox with its
//! deliveries in one transaction before the call answers; an event that matches
//! nothing is acknowledged and forgotten, as on AWS.

use crate::check;
use crate::error::{EntryError, EventsError, Result};
use crate::rules::parse_pattern;
use crate::store::{DEFAULT_BUS, NewDelivery, NewEvent, TargetRecord};
use crate::targets::TargetDoc;
use crate::{EventsService, bus_name};
use flotilla_core::Timestamp;
use flotilla_core::events::{BusEvent, EventSink};
use flotilla_event_pattern::{PatternSet, RuleContext, TargetInput};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// PutEvents' limits: entries a call, and their total size (AWS counts the UTF-8
/// bytes of `Source`, `DetailType`, `Detail` and `Resources`, and 14 for a `Time`).
pub(crate) const MAX_ENTRIES: usize = 10;
pub(crate) const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// One target of a compiled rule: its document and how its body is made.
struct CompiledTarget {
    document: String,
    input: TargetInput,
}

struct CompiledRule {
    name: String,
    arn: String,
    targets: Vec<CompiledTarget>,
}

/// A bus's enabled pattern rules, compiled, as of a generation.
struct BusRules {
    generation: i64,
    set: PatternSet<usize>,
    rules: Vec<CompiledRule>,
}

/// Each bus's compiled rules. Only a cache: the store's bus generation says when an
/// entry is stale, so every replica sees every change.
#[derive(Default)]
pub(crate) struct RuleCache {
    buses: Mutex<HashMap<String, Arc<BusRules>>>,
}

impl EventsService {
    /// The bus's compiled rules (None: no such bus).
    async fn bus_rules(&self, bus: &str) -> Result<Option<Arc<BusRules>>> {
        let Some(generation) = self.store.bus_generation(bus).await? else { return Ok(None) };
        if let Some(cached) = self.rules.buses.lock().unwrap_or_else(|e| e.into_inner()).get(bus)
            && cached.generation == generation
        {
            return Ok(Some(cached.clone()));
        }
        let Some((generation, rules)) = self.store.pattern_rules(bus).await? else { return Ok(None) };
        let compiled = Arc::new(self.compile(generation, rules));
        self.rules.buses.lock().unwrap_or_else(|e| e.into_inner()).insert(bus.to_string(), compiled.clone());
        Ok(Some(compiled))
    }

    fn compile(&self, generation: i64, rules: Vec<(crate::store::RuleRecord, Vec<TargetRecord>)>) -> BusRules {
        let mut set = PatternSet::new();
        let mut compiled = Vec::new();
        for (rule, targets) in rules {
            let Some(pattern) = rule.event_pattern.as_deref() else { continue };
            let pattern = match parse_pattern(pattern) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(bus = %rule.bus, rule = %rule.name, error = %e, "a stored event pattern no longer parses; the rule matches nothing");
                    continue;
                }
            };
            let mut outs = Vec::new();
            for t in targets {
                let input = serde_json::from_str::<TargetDoc>(&t.document)
                    .map_err(|e| e.to_string())
                    .and_then(|doc| doc.target_input());
                match input {
                    Ok(input) => outs.push(CompiledTarget { document: t.document, input }),
                    Err(e) => {
                        tracing::warn!(bus = %rule.bus, rule = %rule.name, target = %t.id, error = %e, "a stored target cannot be used; it is skipped")
                    }
                }
            }
            set.insert(compiled.len(), pattern);
            compiled.push(CompiledRule { arn: self.rule_arn(&rule.bus, &rule.name), name: rule.name, targets: outs });
        }
        BusRules { generation, set, rules: compiled }
    }

    /// An event in AWS's envelope, its members in AWS's order.
    pub(crate) fn envelope(
        &self,
        id: &str,
        source: &str,
        detail_type: &str,
        time_ms: i64,
        resources: &[String],
        detail: &str,
    ) -> String {
        let text = |s: &str| Value::String(s.to_string()).to_string();
        let resources = Value::from(resources.to_vec()).to_string();
        format!(
            "{{\"version\":\"0\",\"id\":{},\"detail-type\":{},\"source\":{},\"account\":{},\"time\":{},\"region\":{},\
             \"resources\":{},\"detail\":{}}}",
            text(id),
            text(detail_type),
            text(source),
            text(&self.account.account_id),
            text(&event_time(time_ms)),
            text(&self.account.region),
            resources,
            detail
        )
    }

    /// The deliveries one event makes on a bus's rules.
    fn deliveries(&self, rules: &BusRules, event: &Value, ingested_ms: i64) -> Vec<NewDelivery> {
        let ingestion_time = Timestamp(ingested_ms).to_iso8601();
        let mut out = Vec::new();
        for &index in rules.set.matching(event) {
            let Some(rule) = rules.rules.get(index) else { continue };
            let context = RuleContext { rule_arn: &rule.arn, rule_name: &rule.name, ingestion_time: &ingestion_time };
            for t in &rule.targets {
                match t.input.render(event, &context) {
                    Ok(body) => out.push(NewDelivery { rule_arn: rule.arn.clone(), target: t.document.clone(), body }),
                    Err(e) => {
                        tracing::warn!(rule = %rule.arn, error = %e, "a matched target's input could not be made from the event; it is not invoked")
                    }
                }
            }
        }
        out
    }

    /// Matches events (id, bus, envelope) and puts the matched ones in the outbox, in
    /// one transaction; wakes the delivery controller. An error here is the caller's:
    /// nothing was stored.
    pub(crate) async fn ingest(&self, events: Vec<(String, String, String)>) -> Result<()> {
        let now = self.store.now_ms().await?;
        let mut buses: HashMap<String, Option<Arc<BusRules>>> = HashMap::new();
        let mut stored = Vec::new();
        for (id, bus, body) in events {
            if !buses.contains_key(&bus) {
                let rules = self.bus_rules(&bus).await?;
                buses.insert(bus.clone(), rules);
            }
            let Some(Some(rules)) = buses.get(&bus) else { continue };
            if rules.rules.is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(&body).map_err(|e| EventsError::corrupt("an event", e))?;
            let deliveries = self.deliveries(rules, &value, now);
            if !deliveries.is_empty() {
                stored.push(NewEvent { id, body, ingested_at: now, deliveries });
            }
        }
        if !stored.is_empty() {
            self.store.insert_events(&stored).await?;
            self.wakeup.notify_one();
        }
        Ok(())
    }
}

/// `2024-05-01T12:00:00Z`: events carry whole seconds, as AWS's do.
pub(crate) fn event_time(ms: i64) -> String {
    let full = Timestamp(ms.div_euclid(1000) * 1000).to_iso8601();
    match full.strip_suffix(".000Z") {
        Some(whole) => format!("{whole}Z"),
        None => full,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Entry {
    time: Option<f64>,
    source: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    detail_type: Option<String>,
    detail: Option<String>,
    event_bus_name: Option<String>,
    trace_header: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutInput {
    entries: Vec<Entry>,
    endpoint_id: Option<String>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutOutput {
    failed_entry_count: usize,
    entries: Vec<ResultEntry>,
}

/// An entry's size as AWS counts it against the 256 KiB limit.
fn entry_size(e: &Entry) -> usize {
    e.time.map_or(0, |_| 14)
        + e.source.as_deref().map_or(0, str::len)
        + e.detail_type.as_deref().map_or(0, str::len)
        + e.detail.as_deref().map_or(0, str::len)
        + e.resources.iter().map(String::len).sum::<usize>()
}

/// Why an entry is refused, or its (bus, time, detail).
fn check_entry(e: &Entry) -> std::result::Result<(String, Option<i64>), EntryError> {
    let Some(_) = e.source.as_deref().filter(|s| !s.is_empty()) else { return Err(EntryError::missing("Source")) };
    let Some(_) = e.detail_type.as_deref().filter(|s| !s.is_empty()) else {
        return Err(EntryError::missing("DetailType"));
    };
    let Some(detail) = e.detail.as_deref().filter(|s| !s.is_empty()) else {
        return Err(EntryError::missing("Detail"));
    };
    if !serde_json::from_str::<Value>(detail).is_ok_and(|d| d.is_object()) {
        return Err(EntryError::malformed_detail());
    }
    if let Some(r) = e.resources.iter().find(|r| r.len() > 2048) {
        return Err(EntryError::invalid(format!(
            "Parameter Resources is not valid. Reason: resource {}… is longer than 2048 characters.",
            r.chars().take(64).collect::<String>()
        )));
    }
    let bus = match e.event_bus_name.as_deref() {
        Some(b) if b.is_empty() || b.len() > 1600 => {
            return Err(EntryError::invalid("Parameter EventBusName is not valid.".to_string()));
        }
        other => bus_name(other),
    };
    let time = match e.time {
        None => None,
        Some(t) if t.is_finite() => Some((t * 1000.0).round() as i64),
        Some(_) => return Err(EntryError::invalid("Parameter Time is not valid.".to_string())),
    };
    Ok((bus, time))
}

pub(crate) async fn put(svc: &EventsService, input: PutInput) -> Result<PutOutput> {
    if input.entries.is_empty() || input.entries.len() > MAX_ENTRIES {
        let constraint = if input.entries.is_empty() {
            "Member must have length greater than or equal to 1".to_string()
        } else {
            format!("Member must have length less than or equal to {MAX_ENTRIES}")
        };
        return Err(EventsError::constraint("[…]", "entries", &constraint));
    }
    if let Some(id) = &input.endpoint_id {
        return Err(EventsError::NotFound(format!("Endpoint {id} does not exist.")));
    }
    for (i, e) in input.entries.iter().enumerate() {
        if let Some(h) = &e.trace_header {
            check::length(h, &format!("entries.{}.member.traceHeader", i + 1), 1, 500)?;
        }
    }
    if input.entries.iter().map(entry_size).sum::<usize>() > MAX_REQUEST_BYTES {
        return Err(EventsError::Validation("Total size of the entries in the request is over the limit.".into()));
    }
    let now = svc.store.now_ms().await?;
    let mut results = Vec::with_capacity(input.entries.len());
    let mut events = Vec::new();
    let mut known_buses: HashMap<String, bool> = HashMap::new();
    for e in &input.entries {
        let checked = check_entry(e);
        let (bus, time) = match checked {
            Ok(ok) => ok,
            Err(err) => {
                results.push(ResultEntry {
                    error_code: Some(err.code.into()),
                    error_message: Some(err.message),
                    ..Default::default()
                });
                continue;
            }
        };
        let exists = match known_buses.get(&bus) {
            Some(known) => *known,
            None => {
                let known = svc.store.bus_generation(&bus).await?.is_some();
                known_buses.insert(bus.clone(), known);
                known
            }
        };
        if !exists {
            let err = EntryError::bus_not_found(&bus);
            results.push(ResultEntry {
                error_code: Some(err.code.into()),
                error_message: Some(err.message),
                ..Default::default()
            });
            continue;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let body = svc.envelope(
            &id,
            e.source.as_deref().unwrap_or_default(),
            e.detail_type.as_deref().unwrap_or_default(),
            time.unwrap_or(now),
            &e.resources,
            e.detail.as_deref().unwrap_or("{}"),
        );
        events.push((id.clone(), bus, body));
        results.push(ResultEntry { event_id: Some(id), ..Default::default() });
    }
    svc.ingest(events).await?;
    let failed_entry_count = results.iter().filter(|r| r.error_code.is_some()).count();
    Ok(PutOutput { failed_entry_count, entries: results })
}

/// The default bus takes the control plane's own events (ECS's state changes): as
/// PutEvents on `default`, without the 10-entry limit, `Ok` once they are stored.
#[async_trait::async_trait]
impl EventSink for EventsService {
    async fn emit(&self, events: Vec<BusEvent>) -> std::result::Result<(), String> {
        let events: Vec<(String, String, String)> = events
            .into_iter()
            .map(|e| {
                let id = uuid::Uuid::new_v4().to_string();
                let detail = if e.detail.is_object() { e.detail.to_string() } else { "{}".to_string() };
                let body = self.envelope(&id, &e.source, &e.detail_type, e.time_ms, &e.resources, &detail);
                (id, DEFAULT_BUS.to_string(), body)
            })
            .collect();
        self.ingest(events).await.map_err(|e| format!("putting events on the default bus: {e}"))
    }

    async fn listening(&self) -> bool {
        // A failed read counts as listening: the events are built and put, as before.
        self.bus_rules(DEFAULT_BUS).await.map_or(true, |rules| rules.is_some_and(|r| !r.rules.is_empty()))
    }
}
