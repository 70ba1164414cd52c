//! The CloudWatch Logs Insights query language (the `queryString` of StartQuery):
//! [`Query::parse`] checks a query as StartQuery does (errors are what
//! `MalformedQueryException` reports), and an [`Evaluation`] streams log events
//! through it and returns the rows GetQueryResults shows.
//!
//! ```
//! use flotilla_logs_query::LogEvent;
//! use flotilla_logs_query::insights::{Evaluation, Query};
//!
//! let query = Query::parse(
//!     r#"filter @message like /ERROR/
//!        | parse @message "[*] *" as level, text
//!        | stats count(*) as errors by bin(1h)"#,
//! )?;
//! let mut run = Evaluation::new(&query);
//! for (i, message) in ["[ERROR] disk full", "[INFO] ok", "[ERROR] disk full again"].into_iter().enumerate() {
//!     run.push(&LogEvent {
//!         log_group: "app".into(),
//!         log_stream: "web-1".into(),
//!         timestamp: 1_704_110_400_000 + i as i64 * 1000, // 2024-01-01 12:00:00 UTC
//!         ingestion_time: 1_704_110_400_000,
//!         message: message.into(),
//!     });
//! }
//! let results = run.finish();
//! assert_eq!(
//!     results.rows,
//!     vec![vec![
//!         ("bin(1h)".to_string(), "2024-01-01 12:00:00.000".to_string()),
//!         ("errors".to_string(), "2".to_string()),
//!     ]]
//! );
//! assert_eq!((results.records_scanned, results.records_matched), (3, 2));
//! # Ok::<(), flotilla_logs_query::insights::QueryError>(())
//! ```
//!
//! # The language
//!
//! Commands are separated by `|` (a command word at the start of a line also starts
//! a new command); `#` comments to the end of the line; command, keyword and function
//! names are case-insensitive, field names are not; names with characters other than
//! letters, digits, `_`, `@`, `.` and `$` go in backticks.
//!
//! - `fields e [as name], …` computes fields; `display e [as name], …` chooses what
//!   rows show (only the last `display` counts). Without either, rows show
//!   `@timestamp` and `@message`; with `fields` and no `display`, every `fields` field.
//! - `filter e` keeps rows where `e` is true (non-zero, non-empty).
//! - `parse [field] "glob * text *" as a, b` (each `*` a field, the pattern matching
//!   anywhere; a trailing `*` takes the rest) or `parse [field] /(?<name>re)/`
//!   (named groups); `field` defaults to `@message`. Rows that do not match are kept,
//!   without the fields.
//! - `stats agg [as name], … [by e [as name], …]`: `count(*)`, `count()`, `count(e)`,
//!   `count_distinct`, `sum`, `avg`, `min`, `max`, `pct(e, p)`, `stddev` (sample),
//!   `earliest`, `latest`, `sortsFirst`, `sortsLast`, and arithmetic over them
//!   (`sum(a) / count(*)`); at most two `stats`, with `sort`/`limit`/`dedup` only after
//!   the last. Rows show the `by` fields, then the aggregates, under their aliases or as
//!   written. Groups come in the order first seen; grouped by `bin(…)` (or
//!   `datefloor`/`dateceil`), newest first. Without `by` there is always one row.
//! - `sort e [asc|desc], …` (ascending by default) in AWS's natural order: text before
//!   numbers, digit runs compared as numbers; missing values last. Without `sort`, rows
//!   come newest `@timestamp` first, as AWS returns them.
//! - `limit n` (1–10000; the default is 10000) and `dedup f1, …` (the first row in
//!   order per combination; rows missing any of the fields are all kept; only `limit`
//!   may follow).
//!
//! Expressions: numbers, `"strings"`/`'strings'`, fields, `( )`, `+ - * / % ^`,
//! `= != < <= > >=` (numeric when both sides read as numbers), `and or not`,
//! `like "substring"`, `like /regex/`, `=~ /regex/`, `not like`, `in [..]`, `not in`,
//! and functions: `strlen toupper tolower concat substr replace trim ltrim rtrim
//! strcontains isempty isblank startsWith endsWith`, `abs ceil floor greatest least log
//! sqrt round toNumber`, `bin(period) datefloor(t, period) dateceil(t, period)
//! fromMillis toMillis`, `ispresent coalesce if`. Periods are a number and a unit:
//! `ms s m h d w mo q y` or their long forms (`msec sec min hr day week mon qtr yr`,
//! `minute`, `hours`, …); as AWS does, amounts over 1000 ms, 60 s, 60 m or 24 h are
//! capped to that. Weeks start on Monday, months/quarters/years on calendar boundaries.
//! Comparisons with a missing field are false (so `not (x = 1)` holds when `x` is
//! missing, `x != 1` does not). Booleans print as `1`/`0`.
//!
//! # Fields
//!
//! Every event has `@timestamp`, `@ingestionTime` (printed `2024-01-01 12:00:00.000`,
//! UTC), `@message`, `@logStream` and `@log` (the log group name). When the message is
//! a JSON object its fields are discovered as AWS does: nested keys joined with `.`,
//! array items by index (`items.0.id`), at most 200, top-level keys starting with `@`
//! given another `@`. `key=value` text is not discovered (AWS does not either; use
//! `parse`). Result rows leave out fields without a value and carry no `@ptr`.

mod ast;
mod eval;
mod lexer;
mod parser;
mod regex_compat;
#[cfg(test)]
mod tests;
mod time;
mod value;

use thiserror::Error;

/// Why a query is malformed. Messages are lower-case without a trailing period; the
/// service reports them as `MalformedQueryException`. Lines and columns are 1-based
/// (columns in characters).
#[derive(Debug, Clone, Error, PartialEq)]
pub enum QueryError {
    /// The query has no commands (it is empty or only comments).
    #[error("the query is empty")]
    Empty,
    /// The query is longer than AWS allows.
    #[error("the query is {len} characters long, more than the limit of {max}")]
    TooLong {
        /// Its length in characters.
        len: usize,
        /// The limit (10000).
        max: usize,
    },
    /// A character that starts no token.
    #[error("unexpected character '{found}' at line {line}, column {column}")]
    UnexpectedCharacter {
        /// The character.
        found: char,
        /// Its line.
        line: usize,
        /// Its column.
        column: usize,
    },
    /// A string, regular expression or backtick-quoted name that is not closed.
    #[error("unterminated {what} starting at line {line}, column {column}")]
    Unterminated {
        /// What was left open.
        what: &'static str,
        /// Where it starts: line.
        line: usize,
        /// Where it starts: column.
        column: usize,
    },
    /// A token where something else was needed.
    #[error("unexpected symbol '{found}' at line {line}, column {column}: expected {expected}")]
    UnexpectedToken {
        /// The token as written.
        found: String,
        /// What the parser wanted there.
        expected: String,
        /// Its line.
        line: usize,
        /// Its column.
        column: usize,
    },
    /// The query ends where something else was needed.
    #[error("unexpected end of query: expected {expected}")]
    UnexpectedEnd {
        /// What the parser wanted there.
        expected: String,
    },
    /// A word that is no command.
    #[error("unknown command '{name}' at line {line}, column {column}")]
    UnknownCommand {
        /// The word.
        name: String,
        /// Its line.
        line: usize,
        /// Its column.
        column: usize,
    },
    /// A command of the language this engine does not run (`pattern`, `diff`, …).
    #[error("the {0} command is not supported")]
    UnsupportedCommand(String),
    /// A function name that is not known.
    #[error("unknown function '{0}'")]
    UnknownFunction(String),
    /// A function called with too few or too many arguments.
    #[error("function {function} takes {expected} argument(s), {found} given")]
    WrongArgumentCount {
        /// The function as written.
        function: String,
        /// How many it takes (`2`, `1 to 3`, `at least 1`).
        expected: String,
        /// How many were given.
        found: usize,
    },
    /// An argument of the wrong kind, such as a percentile out of 0–100.
    #[error("invalid argument to {function}: {reason}")]
    InvalidArgument {
        /// The function as written.
        function: String,
        /// What is wrong.
        reason: String,
    },
    /// A regular expression that does not compile.
    #[error("invalid regular expression /{pattern}/: {reason}")]
    InvalidRegex {
        /// The pattern as written.
        pattern: String,
        /// The compiler's complaint.
        reason: String,
    },
    /// A time period with an unknown unit or an amount that is not a positive integer.
    #[error("invalid time period '{0}': expected a positive whole number and one of ms, s, m, h, d, w, mo, q, y")]
    InvalidPeriod(String),
    /// A `limit` that is not a whole number from 1 to 10000.
    #[error("invalid limit '{0}': expected a whole number from 1 to 10000")]
    InvalidLimit(String),
    /// A glob `parse` whose `*` count differs from its field count.
    #[error("the parse pattern has {wildcards} wildcard(s) but {fields} field name(s)")]
    ParseFieldCount {
        /// `*` in the pattern.
        wildcards: usize,
        /// Names after `as`.
        fields: usize,
    },
    /// A regular expression `parse` with no named group to extract.
    #[error("the parse regular expression has no named capturing group such as (?<name>...)")]
    ParseWithoutNamedGroups,
    /// An aggregate function (`count`, `sum`, …) outside `stats`.
    #[error("the aggregate function {0} can only be used in stats")]
    AggregateOutsideStats(String),
    /// An aggregate inside another aggregate's argument.
    #[error("the aggregate function {0} cannot be used inside another aggregate function")]
    NestedAggregate(String),
    /// A `stats` expression without an aggregate function.
    #[error("the stats expression '{0}' uses no aggregate function")]
    NoAggregate(String),
    /// More than two `stats` commands.
    #[error("a query can have at most two stats commands")]
    TooManyStats,
    /// `sort`, `limit` or `dedup` before the last `stats`.
    #[error("the {0} command must come after the last stats command")]
    CommandBeforeStats(String),
    /// A command other than `limit` after `dedup`.
    #[error("only limit can follow dedup, found {0}")]
    CommandAfterDedup(String),
    /// Expressions nested deeper than the engine allows.
    #[error("the query nests expressions more than {0} levels deep")]
    TooDeep(usize),
}

/// A parsed, checked query.
#[derive(Debug, Clone)]
pub struct Query {
    program: ast::Program,
    limit: usize,
}

impl Query {
    /// Parses and checks query text.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let program = parser::parse(text)?;
        let limit = program
            .commands
            .iter()
            .filter_map(|c| match c {
                ast::Command::Limit(n) => Some(*n),
                _ => None,
            })
            .min()
            .unwrap_or(parser::MAX_LIMIT);
        Ok(Query { program, limit })
    }

    /// The most rows the query returns: its smallest `limit`, else 10000 like AWS.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// A query running over a stream of log events. Memory stays bounded by the query's
/// limit where the query allows: without `stats`, at most twice the limit of rows are
/// kept (whatever the order events are pushed in); `stats` keeps one state per group
/// (`count_distinct` and `pct` keep their group's values), `dedup` one row per
/// distinct combination.
#[derive(Debug)]
pub struct Evaluation {
    engine: eval::Engine,
}

impl Evaluation {
    /// Starts running `query`.
    pub fn new(query: &Query) -> Self {
        Evaluation { engine: eval::Engine::new(&query.program, query.limit) }
    }

    /// Feeds one log event through the query.
    pub fn push(&mut self, event: &crate::LogEvent) {
        self.engine.push(event);
    }

    /// Ends the run and returns its results.
    pub fn finish(self) -> QueryResults {
        let (records_scanned, records_matched, bytes_scanned) =
            (self.engine.scanned, self.engine.matched, self.engine.bytes);
        QueryResults { rows: self.engine.finish(), records_scanned, records_matched, bytes_scanned }
    }
}

/// The results of a query, as GetQueryResults returns them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryResults {
    /// One entry per row: (field, value) in output order, fields without a value left
    /// out. Timestamps print as `2024-01-01 12:00:00.000` (UTC), numbers without
    /// trailing zeros.
    pub rows: Vec<Vec<(String, String)>>,
    /// Events pushed.
    pub records_scanned: u64,
    /// Events that passed the query's filters (before `stats`, `limit` and `dedup`).
    pub records_matched: u64,
    /// Bytes of `@message` pushed.
    pub bytes_scanned: u64,
}
