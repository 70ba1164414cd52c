//! Placement constraints: validation of ECS's `{type, expression}` pairs.
//!
//! Constraints are binding: an instance that fails one never gets the task.
//!
//! - `memberOf` with a [cluster query language](crate::cql) expression: the instance
//!   must satisfy it.
//! - `distinctInstance`: "place each task in the group on a different container
//!   instance" — an instance that already runs a task of the request's group (tasks
//!   placed earlier in the same call included) is not a candidate. ECS accepts it on
//!   RunTask, CreateService and UpdateService but not in a task definition; that check
//!   belongs to the API layer.
//!
//! A task has at most [`MAX_CONSTRAINTS`] constraints, its task definition's and the
//! call's together.

use crate::cql::{self, Expr};
use crate::error::ConstraintError;

/// At most ten constraints per task (task definition's and the call's together).
pub const MAX_CONSTRAINTS: usize = 10;

/// A validated placement constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementConstraint {
    /// `{"type": "distinctInstance"}`
    DistinctInstance,
    /// `{"type": "memberOf", "expression": …}` with the parsed expression and its text.
    MemberOf {
        /// The expression as written.
        text: String,
        /// The parsed expression.
        expr: Expr,
    },
}

impl PlacementConstraint {
    /// Validates one wire constraint; `index` is its position, for errors.
    pub fn parse(index: usize, kind: &str, expression: Option<&str>) -> Result<Self, ConstraintError> {
        let expression = expression.filter(|e| !e.trim().is_empty());
        match kind {
            "distinctInstance" => match expression {
                None => Ok(Self::DistinctInstance),
                Some(_) => Err(ConstraintError::UnexpectedExpression { index }),
            },
            "memberOf" => {
                let text = expression.ok_or(ConstraintError::MissingExpression { index })?;
                let expr = cql::parse(text).map_err(|source| ConstraintError::Expression { index, source })?;
                Ok(Self::MemberOf { text: text.into(), expr })
            }
            _ => Err(ConstraintError::InvalidType { index, kind: kind.into() }),
        }
    }

    /// Validates a whole list (at most [`MAX_CONSTRAINTS`]).
    pub fn parse_all<'a>(
        items: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<Vec<Self>, ConstraintError> {
        let v = items.into_iter().enumerate().map(|(i, (t, e))| Self::parse(i, t, e)).collect::<Result<Vec<_>, _>>()?;
        check_count(&v)?;
        Ok(v)
    }

    /// A memberOf constraint, parsing `expression`.
    pub fn member_of(expression: &str) -> Result<Self, ConstraintError> {
        Self::parse(0, "memberOf", Some(expression))
    }
}

/// Errors if there are more than [`MAX_CONSTRAINTS`].
pub fn check_count(constraints: &[PlacementConstraint]) -> Result<(), ConstraintError> {
    if constraints.len() > MAX_CONSTRAINTS {
        return Err(ConstraintError::TooMany { count: constraints.len(), max: MAX_CONSTRAINTS });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CqlError;

    #[test]
    fn table() {
        assert_eq!(
            PlacementConstraint::parse(0, "distinctInstance", None).unwrap(),
            PlacementConstraint::DistinctInstance
        );
        assert!(matches!(
            PlacementConstraint::parse(0, "memberOf", Some("attribute:a exists")).unwrap(),
            PlacementConstraint::MemberOf { .. }
        ));
        let cases: &[(&str, Option<&str>, ConstraintError)] = &[
            ("distinctInstance", Some("attribute:a exists"), ConstraintError::UnexpectedExpression { index: 2 }),
            ("memberOf", None, ConstraintError::MissingExpression { index: 2 }),
            ("memberOf", Some("  "), ConstraintError::MissingExpression { index: 2 }),
            ("sameInstance", None, ConstraintError::InvalidType { index: 2, kind: "sameInstance".into() }),
        ];
        for (t, e, want) in cases {
            assert_eq!(&PlacementConstraint::parse(2, t, *e).unwrap_err(), want);
        }
        match PlacementConstraint::parse(4, "memberOf", Some("attribute:a ==")).unwrap_err() {
            ConstraintError::Expression { index: 4, source: CqlError::Syntax { column: 15, .. } } => {}
            other => panic!("{other:?}"),
        }
        let msg = PlacementConstraint::parse(4, "memberOf", Some("attribute:a ==")).unwrap_err().to_string();
        assert_eq!(
            msg,
            "validating placement constraint 4: parsing cluster query expression at column 15: expected a value, found end of expression"
        );
    }

    #[test]
    fn at_most_ten() {
        let eleven = vec![("distinctInstance", None); 11];
        assert_eq!(
            PlacementConstraint::parse_all(eleven).unwrap_err(),
            ConstraintError::TooMany { count: 11, max: 10 }
        );
        assert_eq!(PlacementConstraint::parse_all(vec![("distinctInstance", None); 10]).unwrap().len(), 10);
    }
}
