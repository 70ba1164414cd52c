//! Task definitions: the registered document, its revisions and statuses, and the
//! rules ECS applies at registration.

mod document;
mod fargate;
mod validate;

pub use document::*;
pub use fargate::{is_valid_fargate_size, parse_task_cpu, parse_task_memory};
pub use validate::{MAX_INTEGER, ValidatedTaskDefinition, normalize_and_validate};

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskDefinitionStatus {
    Active,
    Inactive,
    DeleteInProgress,
}

impl TaskDefinitionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::DeleteInProgress => "DELETE_IN_PROGRESS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(Self::Active),
            "INACTIVE" => Some(Self::Inactive),
            "DELETE_IN_PROGRESS" => Some(Self::DeleteInProgress),
            _ => None,
        }
    }
}

/// One registered revision of a task definition family.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinition {
    pub family: String,
    pub revision: i64,
    pub status: TaskDefinitionStatus,
    pub spec: TaskDefinitionSpec,
    /// Launch types this revision can run on, derived at registration.
    pub compatibilities: Vec<String>,
    /// Agent capabilities a container instance needs to run it, derived at registration.
    pub requires_attributes: Vec<String>,
    pub registered_at: Timestamp,
    pub registered_by: String,
    pub deregistered_at: Option<Timestamp>,
    pub delete_requested_at: Option<Timestamp>,
}

/// How a call names a task definition: `family`, `family:revision` or a full ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskDefinitionRef {
    /// The latest ACTIVE revision of the family.
    Family(String),
    Revision {
        family: String,
        revision: i64,
    },
}

impl TaskDefinitionRef {
    /// Parses a `family` or `family:revision` reference (ARNs are parsed by the caller).
    pub fn parse_short(s: &str) -> Option<Self> {
        match s.rsplit_once(':') {
            None => Some(Self::Family(s.to_string())),
            Some((family, rev)) => {
                let revision = rev.parse::<i64>().ok().filter(|r| *r > 0)?;
                Some(Self::Revision { family: family.to_string(), revision })
            }
        }
    }
}
