//! Placement strategies: validation of ECS's `{type, field}` pairs and the defaults.
//!
//! Strategies are best effort and applied in order, each keeping only the best of the
//! candidates the previous one left (ECS: "Task placement strategies are a best
//! effort"):
//!
//! - `binpack` on `cpu` or `memory`: the candidates with the least remaining amount of
//!   that resource (that still fit the task);
//! - `spread` on `instanceId` (or `host`): the candidates running the fewest tasks of
//!   the request's group; on `attribute:NAME`: the candidates whose value of NAME has
//!   the fewest tasks of the group across the cluster (instances without the attribute
//!   share one "no value" bucket; tasks count on every instance of the snapshot,
//!   draining ones included — the caller removes stopped tasks with
//!   [`crate::Snapshot::remove_task`]);
//! - `random`: any candidate; strategies after it have nothing left to choose from.
//!   Random choices (this and ties left by the other strategies) are a seeded,
//!   randomized round-robin: fair over time, reproducible per seed (see
//!   [`crate::place`](mod@crate::place)).
//!
//! Defaults (ECS developer guide, "Use strategies to define Amazon ECS task placement",
//! docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement-strategies.html):
//! a service's tasks are spread on `attribute:ecs.availability-zone`
//! ([`default_service_strategies`]). The guide names no default for standalone tasks
//! (RunTask/StartTask); we use `random` ([`default_run_task_strategies`]), which keeps
//! any instance equally likely, as the console's standalone-task flow does.

use crate::error::StrategyError;

/// At most five strategies per task or service.
pub const MAX_STRATEGIES: usize = 5;

/// The resource binpack minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinpackField {
    /// Remaining CPU units.
    Cpu,
    /// Remaining memory MiB.
    Memory,
}

/// What spread balances on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpreadField {
    /// `instanceId` or `host`.
    Instance,
    /// `attribute:NAME`.
    Attribute(String),
}

/// A validated placement strategy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PlacementStrategy {
    /// `{"type": "random"}`
    Random,
    /// `{"type": "spread", "field": …}`
    Spread(SpreadField),
    /// `{"type": "binpack", "field": "cpu" | "memory"}`
    Binpack(BinpackField),
}

impl PlacementStrategy {
    /// Validates one wire strategy; `index` is its position in the list, for errors.
    /// Type and binpack field are matched case-insensitively, as ECS does for enums
    /// given in lower case by the CLI.
    pub fn parse(index: usize, kind: &str, field: Option<&str>) -> Result<Self, StrategyError> {
        let field = field.filter(|f| !f.is_empty());
        match kind.to_ascii_lowercase().as_str() {
            "random" => match field {
                None => Ok(Self::Random),
                Some(f) => Err(StrategyError::RandomWithField { index, field: f.into() }),
            },
            "binpack" => match field.map(str::to_ascii_lowercase).as_deref() {
                Some("cpu") => Ok(Self::Binpack(BinpackField::Cpu)),
                Some("memory") => Ok(Self::Binpack(BinpackField::Memory)),
                _ => Err(StrategyError::InvalidBinpackField { index, field: field.unwrap_or_default().into() }),
            },
            "spread" => {
                let f = field.unwrap_or_default();
                if f.eq_ignore_ascii_case("instanceId") || f.eq_ignore_ascii_case("host") {
                    Ok(Self::Spread(SpreadField::Instance))
                } else if let Some(name) = f.strip_prefix("attribute:").filter(|n| !n.is_empty()) {
                    Ok(Self::Spread(SpreadField::Attribute(name.into())))
                } else {
                    Err(StrategyError::InvalidSpreadField { index, field: f.into() })
                }
            }
            _ => Err(StrategyError::InvalidType { index, kind: kind.into() }),
        }
    }

    /// Validates a whole list (at most [`MAX_STRATEGIES`]).
    pub fn parse_all<'a>(
        items: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<Vec<Self>, StrategyError> {
        let v = items.into_iter().enumerate().map(|(i, (t, f))| Self::parse(i, t, f)).collect::<Result<Vec<_>, _>>()?;
        check_count(&v)?;
        Ok(v)
    }

    /// The wire `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Spread(_) => "spread",
            Self::Binpack(_) => "binpack",
        }
    }

    /// The wire `field` (spread on instances reports `instanceId`).
    pub fn field(&self) -> Option<String> {
        match self {
            Self::Random => None,
            Self::Spread(SpreadField::Instance) => Some("instanceId".into()),
            Self::Spread(SpreadField::Attribute(a)) => Some(format!("attribute:{a}")),
            Self::Binpack(BinpackField::Cpu) => Some("cpu".into()),
            Self::Binpack(BinpackField::Memory) => Some("memory".into()),
        }
    }
}

/// Errors if there are more than [`MAX_STRATEGIES`].
pub fn check_count(strategies: &[PlacementStrategy]) -> Result<(), StrategyError> {
    if strategies.len() > MAX_STRATEGIES {
        return Err(StrategyError::TooMany { count: strategies.len(), max: MAX_STRATEGIES });
    }
    Ok(())
}

/// ECS's default for service tasks: spread on `attribute:ecs.availability-zone`.
pub fn default_service_strategies() -> Vec<PlacementStrategy> {
    vec![PlacementStrategy::Spread(SpreadField::Attribute(crate::snapshot::attrs::AVAILABILITY_ZONE.into()))]
}

/// The console's "AZ balanced spread" template: spread on Availability Zone, then on
/// instance.
pub fn az_balanced_spread() -> Vec<PlacementStrategy> {
    vec![
        PlacementStrategy::Spread(SpreadField::Attribute(crate::snapshot::attrs::AVAILABILITY_ZONE.into())),
        PlacementStrategy::Spread(SpreadField::Instance),
    ]
}

/// Our default for standalone tasks (RunTask/StartTask): random.
pub fn default_run_task_strategies() -> Vec<PlacementStrategy> {
    vec![PlacementStrategy::Random]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use BinpackField::*;
        use PlacementStrategy::*;
        let ok: &[(&str, Option<&str>, PlacementStrategy)] = &[
            ("random", None, Random),
            ("random", Some(""), Random),
            ("binpack", Some("cpu"), Binpack(Cpu)),
            ("binpack", Some("memory"), Binpack(Memory)),
            ("BINPACK", Some("MEMORY"), Binpack(Memory)),
            ("spread", Some("instanceId"), Spread(SpreadField::Instance)),
            ("spread", Some("host"), Spread(SpreadField::Instance)),
            (
                "spread",
                Some("attribute:ecs.availability-zone"),
                Spread(SpreadField::Attribute("ecs.availability-zone".into())),
            ),
        ];
        for (t, f, want) in ok {
            assert_eq!(&PlacementStrategy::parse(0, t, *f).unwrap(), want, "{t} {f:?}");
            let back = PlacementStrategy::parse(0, want.kind(), want.field().as_deref()).unwrap();
            assert_eq!(&back, want);
        }
        let bad: &[(&str, Option<&str>, &str)] = &[
            ("pack", None, "type \"pack\" is not valid"),
            ("random", Some("cpu"), "random takes no field"),
            ("binpack", None, "binpack field \"\" is not valid"),
            ("binpack", Some("disk"), "binpack field \"disk\" is not valid"),
            ("spread", None, "spread field \"\" is not valid"),
            ("spread", Some("attribute:"), "spread field \"attribute:\" is not valid"),
            ("spread", Some("zone"), "spread field \"zone\" is not valid"),
        ];
        for (t, f, msg) in bad {
            let e = PlacementStrategy::parse(3, t, *f).unwrap_err().to_string();
            assert!(e.starts_with("validating placement strategy 3: "), "{e}");
            assert!(e.contains(msg), "{e} should contain {msg}");
        }
    }

    #[test]
    fn at_most_five() {
        let six = vec![("random", None); 6];
        assert_eq!(PlacementStrategy::parse_all(six).unwrap_err(), StrategyError::TooMany { count: 6, max: 5 });
        assert_eq!(PlacementStrategy::parse_all(vec![("random", None); 5]).unwrap().len(), 5);
    }

    #[test]
    fn defaults() {
        assert_eq!(default_run_task_strategies(), vec![PlacementStrategy::Random]);
        assert_eq!(default_service_strategies()[0].field().as_deref(), Some("attribute:ecs.availability-zone"));
        assert_eq!(az_balanced_spread().len(), 2);
    }
}
