//! Pure ECS task placement for Flotilla.
//!
//! This crate decides which container instance each task of a RunTask call or a
//! service deployment goes to, following the process ECS documents:
//!
//! 1. **filter on resources and state**: the instance must be `ACTIVE`, its agent
//!    connected, carry every attribute the task definition requires, and have the
//!    CPU units, memory MiB and static host ports (TCP and UDP) the task needs;
//! 2. **constraints** (binding): every `memberOf` expression in the
//!    [cluster query language](cql) must hold and `distinctInstance` forbids an
//!    instance that already runs a task of the same group;
//! 3. **strategies** (best effort, at most five, applied in order): each keeps only
//!    the best remaining candidates — `binpack` the least remaining CPU or memory,
//!    `spread` the fewest tasks of the group per value of its field, `random` any;
//! 4. **selection**: one of the remaining candidates, ties broken by a seeded random
//!    number generator so runs are reproducible.
//!
//! The crate does no I/O, spawns nothing and keeps no global state: the caller hands
//! in a [`Snapshot`] of the cluster and a [`TaskRequest`], and gets back placements or
//! ECS's failure reasons. Placing a task updates the snapshot in place (resources,
//! ports, group counts), so `count` tasks — or a million — are placed incrementally.
//!
//! The API layer calls, in order:
//!
//! - [`Snapshot::new`] and [`Snapshot::push`] with an [`InstanceSpec`] per container
//!   instance (or keeps a long-lived snapshot and updates it with
//!   [`Snapshot::add_task`] / [`Snapshot::remove_task`]);
//! - [`PlacementStrategy::parse`] / [`PlacementConstraint::parse`] to validate the
//!   wire shapes (errors map to `InvalidParameterException`);
//! - [`TaskRequest`] and [`place()`], which returns a [`PlacementOutcome`].
//!
//! ```
//! use flotilla_placement::snapshot::attrs;
//! use flotilla_placement::{
//!     InstanceSpec, PlacementConstraint, PlacementStrategy, Snapshot, TaskRequest, TaskResources, place,
//! };
//!
//! let mut snap = Snapshot::new();
//! for (i, zone) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
//!     snap.push(
//!         InstanceSpec::new(format!("arn:aws:ecs:us-east-1:000000000000:container-instance/default/{i}"), format!("i-{i}"), 2048, 4096)
//!             .attribute(attrs::AVAILABILITY_ZONE, Some(zone))
//!             .attribute(attrs::INSTANCE_TYPE, Some("t3.large")),
//!     );
//! }
//! let mut req = TaskRequest::new(
//!     TaskResources { cpu: 256, memory: 512, tcp_ports: vec![8080], udp_ports: vec![] },
//!     "family:web",
//!     3,
//! );
//! req.strategies = PlacementStrategy::parse_all([
//!     ("spread", Some("attribute:ecs.availability-zone")),
//!     ("binpack", Some("memory")),
//! ])?;
//! req.constraints = PlacementConstraint::parse_all([
//!     ("memberOf", Some("attribute:ecs.instance-type =~ t3.*")),
//! ])?;
//! let out = place(&mut snap, &req)?;
//! // one task per zone; the third needs host port 8080, which both instances now use
//! assert_eq!(out.placements.len(), 2);
//! assert_eq!(out.unplaced, 1);
//! assert_eq!(out.failures[0].reason.as_str(), "RESOURCE:PORTS");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod constraint;
pub mod cql;
pub mod error;
pub mod place;
pub mod rng;
pub mod snapshot;
pub mod strategy;

pub use constraint::{MAX_CONSTRAINTS, PlacementConstraint};
pub use error::{ConstraintError, CqlError, PlacementError, StrategyError};
pub use place::{Failure, FailureReason, Placement, PlacementOutcome, Placer, RUN_TASK_MAX_COUNT, TaskRequest, place};
pub use snapshot::{InstanceId, InstanceSpec, InstanceStatus, Snapshot, TaskResources};
pub use strategy::{
    MAX_STRATEGIES, PlacementStrategy, SpreadField, default_run_task_strategies, default_service_strategies,
};
