//! Amazon EventBridge's rule languages, free of I/O: [`pattern`] (event patterns:
//! which events a rule selects) and [`transform`] (what a rule's target receives:
//! the event, a constant `Input`, an `InputPath` or an `InputTransformer`).
//!
//! Both read events as `serde_json::Value`; the EventBridge service parses each event
//! once, matches it against every rule's compiled [`EventPattern`] (or a bus's
//! [`PatternSet`]) and renders each matched target's body with its [`TargetInput`].

pub mod pattern;
pub mod transform;

pub use pattern::{EventPattern, Location, PatternError, PatternLimits, PatternSet, matches};
pub use transform::{InputTransformer, JsonPath, RuleContext, TargetInput, TargetInputError, TransformError};
