//! The ECS cluster query language (CQL): lexer/parser to an AST ([`parse`]), and a
//! compiled form evaluated against a snapshot's container instances ([`Compiled`]).
//!
//! Syntax, as ECS documents it: `subject operator [argument]`, combined with
//! `and`/`&&`, `or`/`||`, `not`/`!` and parentheses. `not` binds tighter than `and`,
//! which binds tighter than `or`.
//!
//! - Subjects: `agentConnected`, `agentVersion`, `attribute:NAME`, `ec2InstanceId`,
//!   `registeredAt`, `runningTasksCount`, `task:group`.
//! - Operators (symbol or word, words case-insensitive): `==` `equals`, `!=`
//!   `not_equals`, `>` `greater_than`, `>=` `greater_than_equal`, `<` `less_than`,
//!   `<=` `less_than_equal`, `exists`, `!exists` `not_exists`, `in`, `!in` `not_in`,
//!   `=~` `matches`, `!~` `not_matches`. Each subject accepts the operators ECS lists for
//!   it (e.g. `agentConnected` has no ordering operators); a wrong one is a parse error.
//! - Arguments: a literal (bare, or quoted with `'` or `"`), or for `in`/`not_in` a
//!   list `[a, b]` (also `(a, b)`). `matches` takes a regular expression that must match
//!   the whole value, as Java's `Pattern.matches` does. In `==`, `!=`, `in` and `not_in`
//!   a `*` in the argument is a wildcard (`attribute:ecs.instance-type == t2.*`).
//!   `registeredAt` takes `2018-06-18T22:28:28+00:00`, `…Z`, `2018-06-18T22:28:28` or
//!   `2018-06-18` (UTC); a date compares at the precision written (`== 2018-06-18` is
//!   that whole day). `runningTasksCount` takes an integer; `agentVersion` compares
//!   dotted numbers numerically; `attribute:` values compare as numbers when both
//!   sides are numbers, otherwise as strings.
//! - `task:group` holds when any task group running on the instance satisfies the
//!   comparison; every negated operator is the negation of its positive form (an
//!   absent attribute satisfies `!=` and `not_in`).
//! - Case: `and`/`or`/`not`, word operators, subject names and `true`/`false` are
//!   case-insensitive; attribute names, values, instance ids and group names are
//!   compared exactly (ECS attribute values are case-sensitive strings).
//! - Expressions are at most 2000 characters; errors carry the 1-based column.
//!
//! Subjects `runningTasksCount` and `task:group` change as tasks are placed; an
//! expression using them is *dynamic* and is re-checked per placement, the others are
//! evaluated once per container instance per placement request.

mod eval;
mod parser;

pub use eval::Compiled;
pub use parser::{MAX_EXPRESSION_LEN, parse};

/// A parsed CQL expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Both hold.
    And(Box<Expr>, Box<Expr>),
    /// Either holds.
    Or(Box<Expr>, Box<Expr>),
    /// Does not hold.
    Not(Box<Expr>),
    /// One comparison.
    Cmp(Comparison),
}

impl Expr {
    /// Whether the expression reads state that placement changes (`runningTasksCount`,
    /// `task:group`).
    pub fn is_dynamic(&self) -> bool {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => a.is_dynamic() || b.is_dynamic(),
            Expr::Not(a) => a.is_dynamic(),
            Expr::Cmp(c) => matches!(c.subject, Subject::RunningTasksCount | Subject::TaskGroup),
        }
    }
}

/// `subject operator [argument]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// What is compared.
    pub subject: Subject,
    /// How.
    pub op: Op,
    /// Against what.
    pub arg: Arg,
    /// 1-based column of the argument (or operator when there is none), for errors.
    pub column: usize,
    /// For `matches` / `not_matches`: the compiled, anchored regular expression.
    pub regex: Option<CqlRegex>,
}

/// A compiled regular expression that must match a whole value; equal when the
/// patterns are.
#[derive(Debug, Clone)]
pub struct CqlRegex(pub regex::Regex);

impl PartialEq for CqlRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for CqlRegex {}

/// A CQL subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `agentConnected`
    AgentConnected,
    /// `agentVersion`
    AgentVersion,
    /// `attribute:NAME`
    Attribute(String),
    /// `ec2InstanceId`
    Ec2InstanceId,
    /// `registeredAt`
    RegisteredAt,
    /// `runningTasksCount`
    RunningTasksCount,
    /// `task:group`
    TaskGroup,
}

impl Subject {
    /// The subject as written in CQL.
    pub fn name(&self) -> String {
        match self {
            Subject::AgentConnected => "agentConnected".into(),
            Subject::AgentVersion => "agentVersion".into(),
            Subject::Attribute(n) => format!("attribute:{n}"),
            Subject::Ec2InstanceId => "ec2InstanceId".into(),
            Subject::RegisteredAt => "registeredAt".into(),
            Subject::RunningTasksCount => "runningTasksCount".into(),
            Subject::TaskGroup => "task:group".into(),
        }
    }

    /// Whether the subject accepts the operator (per the ECS CQL reference).
    pub fn accepts(&self, op: Op) -> bool {
        use Op::*;
        match self {
            Subject::AgentConnected | Subject::Ec2InstanceId => {
                matches!(op, Eq | Ne | In | NotIn | Matches | NotMatches)
            }
            Subject::AgentVersion | Subject::RegisteredAt | Subject::RunningTasksCount => {
                matches!(op, Eq | Ne | Gt | Ge | Lt | Le)
            }
            Subject::TaskGroup => {
                matches!(op, Eq | Ne | In | NotIn | Matches | NotMatches | Exists | NotExists)
            }
            Subject::Attribute(_) => true,
        }
    }
}

/// A CQL operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`, `equals`
    Eq,
    /// `!=`, `not_equals`
    Ne,
    /// `>`, `greater_than`
    Gt,
    /// `>=`, `greater_than_equal`
    Ge,
    /// `<`, `less_than`
    Lt,
    /// `<=`, `less_than_equal`
    Le,
    /// `exists`
    Exists,
    /// `!exists`, `not_exists`
    NotExists,
    /// `in`
    In,
    /// `!in`, `not_in`
    NotIn,
    /// `=~`, `matches`
    Matches,
    /// `!~`, `not_matches`
    NotMatches,
}

/// A CQL argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// `exists` / `not_exists` take none.
    None,
    /// One literal.
    Value(String),
    /// `in` / `not_in` lists.
    List(Vec<String>),
}
