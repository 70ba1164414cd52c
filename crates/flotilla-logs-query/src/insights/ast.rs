//! The syntax tree of a parsed query: commands, expressions and the functions they
//! call, already checked (function names and argument counts, regular expressions
//! compiled, periods read).

use regex::Regex;

use super::time::Period;

/// A parsed query: its pipeline of commands in order, `display` taken out.
#[derive(Debug, Clone)]
pub(super) struct Program {
    pub(super) commands: Vec<Command>,
    /// The fields of the last `display` command, if any.
    pub(super) display: Option<Vec<Projection>>,
}

/// One command of the pipeline.
#[derive(Debug, Clone)]
pub(super) enum Command {
    /// `fields e1 [as n1], …`: computes fields (and shows them unless `display` is used).
    Fields(Vec<Projection>),
    /// `filter e`: keeps rows where `e` is true.
    Filter(Expr),
    /// `parse field "glob" as …` or `parse field /regex/`.
    Parse(ParseCmd),
    /// `stats aggregates [by groups]`.
    Stats(StatsCmd),
    /// `sort e1 [asc|desc], …`.
    Sort(Vec<SortKey>),
    /// `limit n`.
    Limit(usize),
    /// `dedup f1, …`.
    Dedup(Vec<String>),
}

impl Command {
    /// The command's name, for messages.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Command::Fields(_) => "fields",
            Command::Filter(_) => "filter",
            Command::Parse(_) => "parse",
            Command::Stats(_) => "stats",
            Command::Sort(_) => "sort",
            Command::Limit(_) => "limit",
            Command::Dedup(_) => "dedup",
        }
    }
}

/// An expression and the field name it is shown under (its alias, else the field it
/// names, else its text as written).
#[derive(Debug, Clone)]
pub(super) struct Projection {
    pub(super) expr: Expr,
    pub(super) name: String,
}

/// A compiled `parse`: the source field, the pattern, and which capture group fills
/// which field.
#[derive(Debug, Clone)]
pub(super) struct ParseCmd {
    pub(super) source: Expr,
    pub(super) pattern: Regex,
    /// (capture group index, field name).
    pub(super) captures: Vec<(usize, String)>,
}

/// A `stats` command. Its outputs refer to its aggregates by index
/// ([`Expr::Agg`]), so `sum(x) / count(*)` is an expression over two aggregates.
#[derive(Debug, Clone)]
pub(super) struct StatsCmd {
    pub(super) aggregates: Vec<AggCall>,
    pub(super) outputs: Vec<Projection>,
    pub(super) by: Vec<Projection>,
}

/// One aggregate function call within `stats`.
#[derive(Debug, Clone)]
pub(super) struct AggCall {
    pub(super) func: AggFunc,
    /// The argument; `None` for `count(*)` and `count()`.
    pub(super) arg: Option<Expr>,
    /// The percentile of `pct` (0–100); unused by the others.
    pub(super) percent: f64,
}

/// The aggregate functions of `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AggFunc {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    Pct,
    Stddev,
    Earliest,
    Latest,
    SortsFirst,
    SortsLast,
}

impl AggFunc {
    /// The aggregate for a function name (case-insensitive).
    pub(super) fn from_name(name: &str) -> Option<AggFunc> {
        Some(match name.to_ascii_lowercase().as_str() {
            "count" => AggFunc::Count,
            "count_distinct" => AggFunc::CountDistinct,
            "sum" => AggFunc::Sum,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "pct" => AggFunc::Pct,
            "stddev" => AggFunc::Stddev,
            "earliest" => AggFunc::Earliest,
            "latest" => AggFunc::Latest,
            "sortsfirst" => AggFunc::SortsFirst,
            "sortslast" => AggFunc::SortsLast,
            _ => return None,
        })
    }
}

/// One key of `sort`.
#[derive(Debug, Clone)]
pub(super) struct SortKey {
    pub(super) expr: Expr,
    pub(super) descending: bool,
}

/// An expression.
#[derive(Debug, Clone)]
pub(super) enum Expr {
    /// A field by name.
    Field(String),
    Num(f64),
    Str(String),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `e like "text"`, `e like /re/`, `e =~ /re/` (`not like` is `Not(Like)`).
    Like(Box<Expr>, Matcher),
    /// `e in [a, b, …]` (`not in` is `Not(In)`).
    In(Box<Expr>, Vec<Expr>),
    /// A scalar function call, arity already checked.
    Call(Func, Vec<Expr>),
    /// `bin(period)` of `@timestamp`.
    Bin(Period),
    /// `datefloor(e, period)`.
    DateFloor(Box<Expr>, Period),
    /// `dateceil(e, period)`.
    DateCeil(Box<Expr>, Period),
    /// The result of aggregate number `n` of the enclosing `stats`.
    Agg(usize),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

/// The right-hand side of `like` / `=~`.
#[derive(Debug, Clone)]
pub(super) enum Matcher {
    /// Case-sensitive substring match.
    Substring(String),
    /// Unanchored regular expression search.
    Regex(Regex),
}

/// Scalar functions usable in `fields`, `filter`, `display`, `sort` and inside
/// aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    // string
    Strlen,
    ToUpper,
    ToLower,
    Concat,
    Substr,
    Replace,
    Trim,
    Ltrim,
    Rtrim,
    StrContains,
    IsEmpty,
    IsBlank,
    StartsWith,
    EndsWith,
    // numeric
    Abs,
    Ceil,
    Floor,
    Greatest,
    Least,
    Log,
    Sqrt,
    Round,
    ToNumber,
    // datetime
    FromMillis,
    ToMillis,
    // general
    IsPresent,
    Coalesce,
    If,
}

impl Func {
    /// The function for a name (case-insensitive) with its least and greatest number
    /// of arguments (`None`: any number).
    pub(super) fn from_name(name: &str) -> Option<(Func, usize, Option<usize>)> {
        Some(match name.to_ascii_lowercase().as_str() {
            "strlen" => (Func::Strlen, 1, Some(1)),
            "toupper" => (Func::ToUpper, 1, Some(1)),
            "tolower" => (Func::ToLower, 1, Some(1)),
            "concat" => (Func::Concat, 1, None),
            "substr" => (Func::Substr, 2, Some(3)),
            "replace" => (Func::Replace, 3, Some(3)),
            "trim" => (Func::Trim, 1, Some(2)),
            "ltrim" => (Func::Ltrim, 1, Some(2)),
            "rtrim" => (Func::Rtrim, 1, Some(2)),
            "strcontains" => (Func::StrContains, 2, Some(3)),
            "isempty" => (Func::IsEmpty, 1, Some(1)),
            "isblank" => (Func::IsBlank, 1, Some(1)),
            "startswith" => (Func::StartsWith, 2, Some(2)),
            "endswith" => (Func::EndsWith, 2, Some(2)),
            "abs" => (Func::Abs, 1, Some(1)),
            "ceil" => (Func::Ceil, 1, Some(1)),
            "floor" => (Func::Floor, 1, Some(1)),
            "greatest" => (Func::Greatest, 1, None),
            "least" => (Func::Least, 1, None),
            "log" => (Func::Log, 1, Some(1)),
            "sqrt" => (Func::Sqrt, 1, Some(1)),
            "round" => (Func::Round, 1, Some(2)),
            "tonumber" => (Func::ToNumber, 1, Some(1)),
            "frommillis" => (Func::FromMillis, 1, Some(1)),
            "tomillis" => (Func::ToMillis, 1, Some(1)),
            "ispresent" => (Func::IsPresent, 1, Some(1)),
            "coalesce" => (Func::Coalesce, 1, None),
            "if" => (Func::If, 3, Some(3)),
            _ => return None,
        })
    }
}
