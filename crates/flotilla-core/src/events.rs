//! Events the control plane's own modules emit (ECS task, container instance, service
//! and deployment state changes) and the sink they put them through; the server wires
//! EventBridge's default bus in as the sink, which stores them durably before it
//! answers, so an event acknowledged by the sink is never lost.

/// One event, as EventBridge's PutEvents entry would carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    /// e.g. `aws.ecs`.
    pub source: String,
    /// e.g. `ECS Task State Change`.
    pub detail_type: String,
    /// ARNs of the resources the event is about.
    pub resources: Vec<String>,
    /// The event's `detail` object.
    pub detail: serde_json::Value,
    pub time_ms: i64,
}

/// Where the modules' events go.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync {
    /// Stores the events for delivery; `Ok` only once they are durable.
    async fn emit(&self, events: Vec<BusEvent>) -> Result<(), String>;
    /// Whether an event emitted now could reach a rule: without one, producers
    /// need not build their events at all (describing a task costs reads).
    async fn listening(&self) -> bool;
}
