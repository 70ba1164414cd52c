//! Typed errors of the placement engine.
//!
//! Every variant says what the engine was doing and on what. Messages are lower-case
//! without a trailing period; the API layer maps all of them to ECS's
//! `InvalidParameterException` except [`PlacementError::NoContainerInstances`], which
//! ECS also reports as `InvalidParameterException` ("No Container Instances were found
//! in your cluster.").

use thiserror::Error;

/// An invalid cluster query language expression.
///
/// `column` is the 1-based character position in the expression where the problem was
/// found (for a missing token, the position just past the end of the expression).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CqlError {
    /// The expression is longer than ECS allows.
    #[error("parsing cluster query expression: expression is {len} characters long, more than the limit of {max}")]
    TooLong {
        /// Length in characters.
        len: usize,
        /// The limit (2000).
        max: usize,
    },
    /// An unexpected token.
    #[error("parsing cluster query expression at column {column}: expected {expected}, found {found}")]
    Syntax {
        /// 1-based character position.
        column: usize,
        /// What the parser wanted there.
        expected: String,
        /// What it saw instead (`end of expression` at the end).
        found: String,
    },
    /// An operator the subject does not support (e.g. `agentConnected > true`).
    #[error(
        "parsing cluster query expression at column {column}: operator {operator} is not valid for subject {subject}"
    )]
    InvalidOperator {
        /// 1-based character position of the operator.
        column: usize,
        /// The operator as written.
        operator: String,
        /// The subject as written.
        subject: String,
    },
    /// An argument that does not fit its subject or operator.
    #[error("parsing cluster query expression at column {column}: invalid argument {value:?}: {reason}")]
    InvalidArgument {
        /// 1-based character position of the argument.
        column: usize,
        /// The argument as written.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
}

impl CqlError {
    /// The 1-based column the error points at, if it points anywhere.
    pub fn column(&self) -> Option<usize> {
        match self {
            CqlError::TooLong { .. } => None,
            CqlError::Syntax { column, .. }
            | CqlError::InvalidOperator { column, .. }
            | CqlError::InvalidArgument { column, .. } => Some(*column),
        }
    }
}

/// An invalid placement strategy.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StrategyError {
    /// More than five strategies.
    #[error("validating placement strategies: {count} given, at most {max} are allowed")]
    TooMany {
        /// Number given.
        count: usize,
        /// The limit (5).
        max: usize,
    },
    /// A type other than random, spread or binpack.
    #[error("validating placement strategy {index}: type {kind:?} is not valid, expected random, spread or binpack")]
    InvalidType {
        /// 0-based position in the list.
        index: usize,
        /// The type as given.
        kind: String,
    },
    /// binpack on something other than cpu or memory.
    #[error("validating placement strategy {index}: binpack field {field:?} is not valid, expected cpu or memory")]
    InvalidBinpackField {
        /// 0-based position in the list.
        index: usize,
        /// The field as given (empty when missing).
        field: String,
    },
    /// spread without a field, or with an empty attribute name.
    #[error(
        "validating placement strategy {index}: spread field {field:?} is not valid, expected instanceId, host or attribute:NAME"
    )]
    InvalidSpreadField {
        /// 0-based position in the list.
        index: usize,
        /// The field as given (empty when missing).
        field: String,
    },
    /// random with a field.
    #[error("validating placement strategy {index}: random takes no field, found {field:?}")]
    RandomWithField {
        /// 0-based position in the list.
        index: usize,
        /// The field as given.
        field: String,
    },
}

/// An invalid placement constraint.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConstraintError {
    /// More than ten constraints (task definition's and the call's together).
    #[error("validating placement constraints: {count} given, at most {max} are allowed")]
    TooMany {
        /// Number given.
        count: usize,
        /// The limit (10).
        max: usize,
    },
    /// A type other than memberOf or distinctInstance.
    #[error(
        "validating placement constraint {index}: type {kind:?} is not valid, expected memberOf or distinctInstance"
    )]
    InvalidType {
        /// 0-based position in the list.
        index: usize,
        /// The type as given.
        kind: String,
    },
    /// memberOf without an expression.
    #[error("validating placement constraint {index}: memberOf requires an expression")]
    MissingExpression {
        /// 0-based position in the list.
        index: usize,
    },
    /// distinctInstance with an expression.
    #[error("validating placement constraint {index}: distinctInstance takes no expression")]
    UnexpectedExpression {
        /// 0-based position in the list.
        index: usize,
    },
    /// memberOf with an invalid expression.
    #[error("validating placement constraint {index}: {source}")]
    Expression {
        /// 0-based position in the list.
        index: usize,
        /// The parse error.
        #[source]
        source: CqlError,
    },
}

/// A request the engine cannot act on at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlacementError {
    /// The cluster has no container instances (ECS: "No Container Instances were found
    /// in your cluster.").
    #[error("placing tasks: no container instances were found in the cluster")]
    NoContainerInstances,
    /// A count of zero.
    #[error("placing tasks: count {count} is not valid, expected at least 1")]
    InvalidCount {
        /// The count given.
        count: u32,
    },
    /// Too many strategies.
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    /// Too many constraints.
    #[error(transparent)]
    Constraint(#[from] ConstraintError),
}
