//! The evaluator: runs a parsed [`Program`] over log events as they stream in.
//!
//! The pipeline is split in two. The commands up to the first `stats` — or, without
//! `stats`, up to the first `limit` or `dedup` — run on each event as it is pushed,
//! and feed a sink:
//!
//! - **aggregate** (`stats`): one accumulator per group and aggregate;
//! - **top N** (no `stats`): the best `limit` rows in sort order, kept in a buffer of at
//!   most twice that many (sorted and cut when full), plus a threshold that rejects
//!   rows that can no longer make it. Sorting commutes with the row-wise commands
//!   (`fields`, `filter`, `parse`), so each `sort`'s keys are taken where the `sort`
//!   stands and the rows are ordered once: by the last `sort`'s keys, then the earlier
//!   ones', then newest `@timestamp` first (AWS's default order), then arrival;
//! - **dedup**: the first row in that order for each combination of values, and a top
//!   N of the rows that have a missing value (AWS keeps those all).
//!
//! At `finish`, the rest of the pipeline runs on the sink's rows in memory (a second
//! `stats`, `sort`, `limit`, `fields`, …), the query's limit cuts them, and each row is
//! projected onto the output fields.

use std::cell::OnceCell;
use std::cmp::Ordering;
use std::collections::hash_map::Entry as MapEntry;
use std::collections::{HashMap, HashSet};

use super::ast::{
    AggCall, AggFunc, BinOp, Command, Expr, Func, Matcher, ParseCmd, Program, Projection, SortKey, StatsCmd,
};
use super::value::{Value, compare, millis_from_f64, natural_cmp, values_equal};
use crate::LogEvent;

/// At most this many fields are discovered in a JSON log event (AWS: 200).
const MAX_JSON_FIELDS: usize = 200;
/// Functions that would build a longer string than this return nothing instead.
const MAX_STRING_BYTES: usize = 4 << 20;

/// The log event behind a row.
#[derive(Debug, Clone)]
struct EventData {
    timestamp: i64,
    ingestion_time: i64,
    log_group: String,
    log_stream: String,
    message: String,
    /// Fields discovered in a JSON message, read on first use.
    json: OnceCell<Vec<(String, String)>>,
}

impl EventData {
    fn json(&self) -> &[(String, String)] {
        self.json.get_or_init(|| discover_json(&self.message))
    }
}

/// One row: a log event and the fields commands computed for it, or (after `stats`)
/// only computed fields.
#[derive(Debug, Clone, Default)]
pub(super) struct Row {
    event: Option<Box<EventData>>,
    assigned: Vec<(String, Value)>,
}

impl Row {
    fn from_event(e: &LogEvent) -> Row {
        Row {
            event: Some(Box::new(EventData {
                timestamp: e.timestamp,
                ingestion_time: e.ingestion_time,
                log_group: e.log_group.clone(),
                log_stream: e.log_stream.clone(),
                message: e.message.clone(),
                json: OnceCell::new(),
            })),
            assigned: Vec::new(),
        }
    }

    /// The value of a field: computed fields first, then the event's built-in and
    /// discovered fields.
    pub(super) fn get(&self, name: &str) -> Value {
        if let Some((_, v)) = self.assigned.iter().find(|(n, _)| n == name) {
            return v.clone();
        }
        let Some(ev) = &self.event else { return Value::Null };
        match name {
            "@timestamp" => Value::Time(ev.timestamp),
            "@ingestionTime" => Value::Time(ev.ingestion_time),
            "@message" => Value::Str(ev.message.clone()),
            "@logStream" => Value::Str(ev.log_stream.clone()),
            "@log" => Value::Str(ev.log_group.clone()),
            _ => ev.json().iter().find(|(k, _)| k == name).map_or(Value::Null, |(_, v)| Value::Str(v.clone())),
        }
    }

    fn set(&mut self, name: &str, value: Value) {
        match self.assigned.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.assigned.push((name.to_string(), value)),
        }
    }
}

/// The fields of a JSON object message, nested keys joined with `.` and array items by
/// index (`items.0.id`), as text; top-level keys starting with `@` get another `@`.
fn discover_json(message: &str) -> Vec<(String, String)> {
    let trimmed = message.trim();
    if !trimmed.starts_with('{') {
        return Vec::new();
    }
    let Ok(root @ serde_json::Value::Object(_)) = serde_json::from_str::<serde_json::Value>(trimmed) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    flatten_json("", &root, &mut out);
    out
}

fn flatten_json(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_JSON_FIELDS {
        return;
    }
    let join = |key: &str| {
        if prefix.is_empty() {
            if key.starts_with('@') { format!("@{key}") } else { key.to_string() }
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| flatten_json(&join(k), v, out)),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| flatten_json(&join(&i.to_string()), v, out));
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        serde_json::Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        serde_json::Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
        serde_json::Value::Null => {}
    }
}

/// Evaluates an expression on a row; `aggs` holds the results of the enclosing
/// `stats` aggregates (empty elsewhere).
pub(super) fn eval(expr: &Expr, row: &Row, aggs: &[Value]) -> Value {
    let ev = |e: &Expr| eval(e, row, aggs);
    match expr {
        Expr::Field(name) => row.get(name),
        Expr::Num(n) => Value::Num(*n),
        Expr::Str(s) => Value::Str(s.clone()),
        Expr::Neg(e) => ev(e).as_number().map_or(Value::Null, |n| Value::num(-n)),
        Expr::Not(e) => Value::boolean(!ev(e).truthy()),
        Expr::Binary(op, l, r) => binary(*op, l, r, row, aggs),
        Expr::Like(e, matcher) => Value::boolean(ev(e).display().is_some_and(|text| match matcher {
            Matcher::Substring(s) => text.contains(s.as_str()),
            Matcher::Regex(re) => re.is_match(&text),
        })),
        Expr::In(e, items) => {
            let v = ev(e);
            Value::boolean(!v.is_null() && items.iter().any(|i| values_equal(&v, &ev(i))))
        }
        Expr::Call(func, args) => call(*func, args, row, aggs),
        Expr::Bin(period) => {
            row.get("@timestamp").as_time().and_then(|t| period.floor(t)).map_or(Value::Null, Value::Time)
        }
        Expr::DateFloor(e, period) => ev(e).as_time().and_then(|t| period.floor(t)).map_or(Value::Null, Value::Time),
        Expr::DateCeil(e, period) => ev(e).as_time().and_then(|t| period.ceil(t)).map_or(Value::Null, Value::Time),
        Expr::Agg(i) => aggs.get(*i).cloned().unwrap_or(Value::Null),
    }
}

fn binary(op: BinOp, l: &Expr, r: &Expr, row: &Row, aggs: &[Value]) -> Value {
    let left = eval(l, row, aggs);
    match op {
        BinOp::Or => return Value::boolean(left.truthy() || eval(r, row, aggs).truthy()),
        BinOp::And => return Value::boolean(left.truthy() && eval(r, row, aggs).truthy()),
        _ => {}
    }
    let right = eval(r, row, aggs);
    let ordered = |want: fn(Ordering) -> bool| Value::boolean(compare(&left, &right).is_some_and(want));
    let arith = |f: fn(f64, f64) -> f64| match (left.as_number(), right.as_number()) {
        (Some(x), Some(y)) => Value::num(f(x, y)),
        _ => Value::Null,
    };
    match op {
        BinOp::Eq => Value::boolean(values_equal(&left, &right)),
        BinOp::Ne => Value::boolean(!left.is_null() && !right.is_null() && !values_equal(&left, &right)),
        BinOp::Lt => ordered(Ordering::is_lt),
        BinOp::Le => ordered(Ordering::is_le),
        BinOp::Gt => ordered(Ordering::is_gt),
        BinOp::Ge => ordered(Ordering::is_ge),
        BinOp::Add => arith(|x, y| x + y),
        BinOp::Sub => arith(|x, y| x - y),
        BinOp::Mul => arith(|x, y| x * y),
        BinOp::Div => arith(|x, y| x / y),
        BinOp::Mod => arith(|x, y| x % y),
        BinOp::Pow => arith(f64::powf),
        BinOp::Or | BinOp::And => Value::Null,
    }
}

fn call(func: Func, args: &[Expr], row: &Row, aggs: &[Value]) -> Value {
    let arg = |i: usize| args.get(i).map_or(Value::Null, |a| eval(a, row, aggs));
    let text = |i: usize| arg(i).display();
    let num = |i: usize| arg(i).as_number();
    let string = |s: String| if s.len() > MAX_STRING_BYTES { Value::Null } else { Value::Str(s) };
    let numeric = |f: fn(f64) -> f64| num(0).map_or(Value::Null, |x| Value::num(f(x)));
    let both = |f: fn(&str, &str) -> bool| match (text(0), text(1)) {
        (Some(a), Some(b)) => Value::boolean(f(&a, &b)),
        _ => Value::boolean(false),
    };
    match func {
        Func::Strlen => text(0).map_or(Value::Null, |s| Value::Num(s.chars().count() as f64)),
        Func::ToUpper => text(0).map_or(Value::Null, |s| string(s.to_uppercase())),
        Func::ToLower => text(0).map_or(Value::Null, |s| string(s.to_lowercase())),
        Func::Concat => {
            let parts: Vec<Option<String>> = (0..args.len()).map(text).collect();
            if parts.iter().all(Option::is_none) {
                return Value::Null;
            }
            string(parts.into_iter().flatten().collect())
        }
        Func::Substr => {
            let (Some(s), Some(start)) = (text(0), num(1)) else { return Value::Null };
            let len = if args.len() > 2 {
                match num(2) {
                    Some(n) => n.max(0.0) as usize,
                    None => return Value::Null,
                }
            } else {
                usize::MAX
            };
            Value::Str(s.chars().skip(start.max(0.0) as usize).take(len).collect())
        }
        Func::Replace => {
            let Some(s) = text(0) else { return Value::Null };
            let (from, to) = (text(1).unwrap_or_default(), text(2).unwrap_or_default());
            if from.is_empty() {
                return Value::Str(s);
            }
            let grows = to.len().saturating_sub(from.len()).saturating_mul(s.matches(from.as_str()).count());
            if s.len().saturating_add(grows) > MAX_STRING_BYTES {
                return Value::Null;
            }
            Value::Str(s.replace(from.as_str(), &to))
        }
        Func::Trim | Func::Ltrim | Func::Rtrim => {
            let Some(s) = text(0) else { return Value::Null };
            let set: Option<Vec<char>> = (args.len() > 1).then(|| text(1).unwrap_or_default().chars().collect());
            let strip = |c: char| set.as_ref().map_or(c.is_whitespace(), |set| set.contains(&c));
            Value::Str(
                match func {
                    Func::Ltrim => s.trim_start_matches(strip),
                    Func::Rtrim => s.trim_end_matches(strip),
                    _ => s.trim_matches(strip),
                }
                .to_string(),
            )
        }
        Func::StrContains => match (text(0), text(1)) {
            (Some(s), Some(sub)) if arg(2).truthy() => Value::boolean(s.to_lowercase().contains(&sub.to_lowercase())),
            (Some(s), Some(sub)) => Value::boolean(s.contains(&sub)),
            _ => Value::boolean(false),
        },
        Func::IsEmpty => Value::boolean(text(0).is_none_or(|s| s.is_empty())),
        Func::IsBlank => Value::boolean(text(0).is_none_or(|s| s.trim().is_empty())),
        Func::StartsWith => both(|a, b| a.starts_with(b)),
        Func::EndsWith => both(|a, b| a.ends_with(b)),
        Func::Abs => numeric(f64::abs),
        Func::Ceil => numeric(f64::ceil),
        Func::Floor => numeric(f64::floor),
        Func::Log => numeric(f64::ln),
        Func::Sqrt => numeric(f64::sqrt),
        Func::ToNumber => numeric(|x| x),
        Func::Greatest | Func::Least => {
            let values = (0..args.len()).filter_map(num);
            let best = if func == Func::Greatest { values.reduce(f64::max) } else { values.reduce(f64::min) };
            best.map_or(Value::Null, Value::num)
        }
        Func::Round => {
            let Some(x) = num(0) else { return Value::Null };
            let digits = if args.len() > 1 {
                match num(1) {
                    Some(d) => d.clamp(-15.0, 15.0) as i32,
                    None => return Value::Null,
                }
            } else {
                0
            };
            let scale = 10f64.powi(digits);
            Value::num((x * scale).round() / scale)
        }
        Func::FromMillis => num(0).and_then(millis_from_f64).map_or(Value::Null, Value::Time),
        Func::ToMillis => arg(0).as_time().map_or(Value::Null, |t| Value::Num(t as f64)),
        Func::IsPresent => Value::boolean(!arg(0).is_null()),
        Func::Coalesce => (0..args.len()).map(arg).find(|v| !v.is_null()).unwrap_or(Value::Null),
        Func::If => {
            if arg(0).truthy() {
                arg(1)
            } else {
                arg(2)
            }
        }
    }
}

/// Runs a row-wise command on a row; `false` when a `filter` drops it.
fn apply_row_op(command: &Command, row: &mut Row) -> bool {
    match command {
        Command::Fields(projections) => {
            for p in projections {
                let v = eval(&p.expr, row, &[]);
                row.set(&p.name, v);
            }
            true
        }
        Command::Filter(e) => eval(e, row, &[]).truthy(),
        Command::Parse(p) => {
            apply_parse(p, row);
            true
        }
        Command::Stats(_) | Command::Sort(_) | Command::Limit(_) | Command::Dedup(_) => true,
    }
}

fn apply_parse(p: &ParseCmd, row: &mut Row) {
    let Some(text) = eval(&p.source, row, &[]).display() else { return };
    let Some(caps) = p.pattern.captures(&text) else { return };
    let found: Vec<(&str, Value)> = p
        .captures
        .iter()
        .filter_map(|(i, name)| caps.get(*i).map(|m| (name.as_str(), Value::Str(m.as_str().to_string()))))
        .collect();
    for (name, value) in found {
        row.set(name, value);
    }
}

/// `sort` order of one key: missing values last whichever the direction.
fn sort_cmp(a: &Value, b: &Value, descending: bool) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if descending => natural_cmp(b, a),
        _ => natural_cmp(a, b),
    }
}

fn keys_cmp(descending: &[bool], a: &[Value], b: &[Value]) -> Ordering {
    for (i, desc) in descending.iter().enumerate() {
        let ord = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => sort_cmp(x, y, *desc),
            _ => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Where a streamed row stands in the output order.
#[derive(Debug, Clone)]
struct OrderKey {
    /// Sort keys, the last `sort`'s first.
    keys: Vec<Value>,
    timestamp: i64,
    seq: u64,
}

fn order_cmp(descending: &[bool], a: &OrderKey, b: &OrderKey) -> Ordering {
    keys_cmp(descending, &a.keys, &b.keys).then_with(|| b.timestamp.cmp(&a.timestamp)).then_with(|| a.seq.cmp(&b.seq))
}

#[derive(Debug)]
struct Entry {
    key: OrderKey,
    row: Row,
}

/// The best `cap` rows in output order, in a buffer of at most twice that.
#[derive(Debug)]
struct TopN {
    descending: Vec<bool>,
    cap: usize,
    buffer: Vec<Entry>,
    /// The last kept row once the buffer was full: anything not before it is dropped.
    threshold: Option<OrderKey>,
}

impl TopN {
    fn new(descending: Vec<bool>, cap: usize) -> TopN {
        TopN { descending, cap: cap.max(1), buffer: Vec::new(), threshold: None }
    }

    fn offer(&mut self, entry: Entry) {
        if let Some(t) = &self.threshold
            && order_cmp(&self.descending, &entry.key, t) != Ordering::Less
        {
            return;
        }
        self.buffer.push(entry);
        if self.buffer.len() >= self.cap.saturating_mul(2) {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let descending = &self.descending;
        self.buffer.sort_by(|a, b| order_cmp(descending, &a.key, &b.key));
        self.buffer.truncate(self.cap);
        if self.buffer.len() == self.cap {
            self.threshold = self.buffer.last().map(|e| e.key.clone());
        }
    }

    fn finish(mut self) -> Vec<Entry> {
        self.compact();
        self.buffer
    }
}

/// `dedup` over the streamed order: the first row per combination of values, and the
/// first `cap` rows with a missing value.
#[derive(Debug)]
struct Dedup {
    fields: Vec<String>,
    winners: HashMap<Vec<String>, Entry>,
    missing: TopN,
    cap: usize,
}

impl Dedup {
    fn offer(&mut self, entry: Entry) {
        let key: Option<Vec<String>> = self.fields.iter().map(|f| entry.row.get(f).group_key()).collect();
        let Some(key) = key else {
            self.missing.offer(entry);
            return;
        };
        match self.winners.entry(key) {
            MapEntry::Vacant(slot) => {
                slot.insert(entry);
            }
            MapEntry::Occupied(mut slot) => {
                if order_cmp(&self.missing.descending, &entry.key, &slot.get().key) == Ordering::Less {
                    slot.insert(entry);
                }
            }
        }
    }

    fn finish(self) -> Vec<Entry> {
        let descending = self.missing.descending.clone();
        let mut all: Vec<Entry> = self.winners.into_values().chain(self.missing.finish()).collect();
        all.sort_by(|a, b| order_cmp(&descending, &a.key, &b.key));
        all.truncate(self.cap);
        all
    }
}

/// One aggregate's running state.
#[derive(Debug)]
enum Acc {
    Count(u64),
    Distinct(HashSet<String>),
    Sum {
        sum: f64,
        n: u64,
    },
    Avg {
        sum: f64,
        n: u64,
    },
    /// Welford's running mean and sum of squared deviations.
    Stddev {
        n: u64,
        mean: f64,
        m2: f64,
    },
    Pct(Vec<f64>),
    /// `min`/`max`: the best number if any, else the best other value in sort order.
    Extreme {
        max: bool,
        number: Option<(f64, Value)>,
        other: Option<Value>,
    },
    /// `earliest`/`latest`: the value at the earliest/latest `@timestamp`.
    Timed {
        latest: bool,
        best: Option<(i64, Value)>,
    },
    /// `sortsFirst`/`sortsLast`.
    Sorts {
        last: bool,
        best: Option<Value>,
    },
}

impl Acc {
    fn new(func: AggFunc) -> Acc {
        match func {
            AggFunc::Count => Acc::Count(0),
            AggFunc::CountDistinct => Acc::Distinct(HashSet::new()),
            AggFunc::Sum => Acc::Sum { sum: 0.0, n: 0 },
            AggFunc::Avg => Acc::Avg { sum: 0.0, n: 0 },
            AggFunc::Stddev => Acc::Stddev { n: 0, mean: 0.0, m2: 0.0 },
            AggFunc::Pct => Acc::Pct(Vec::new()),
            AggFunc::Min | AggFunc::Max => Acc::Extreme { max: func == AggFunc::Max, number: None, other: None },
            AggFunc::Earliest | AggFunc::Latest => Acc::Timed { latest: func == AggFunc::Latest, best: None },
            AggFunc::SortsFirst | AggFunc::SortsLast => Acc::Sorts { last: func == AggFunc::SortsLast, best: None },
        }
    }

    fn update(&mut self, call: &AggCall, row: &Row) {
        let value = call.arg.as_ref().map(|a| eval(a, row, &[]));
        if let Acc::Count(n) = self {
            if value.as_ref().is_none_or(|v| !v.is_null()) {
                *n = n.saturating_add(1);
            }
            return;
        }
        let Some(value) = value.filter(|v| !v.is_null()) else { return };
        match self {
            Acc::Count(_) => {}
            Acc::Distinct(seen) => {
                if let Some(k) = value.group_key() {
                    seen.insert(k);
                }
            }
            Acc::Sum { sum, n } | Acc::Avg { sum, n } => {
                if let Some(x) = value.as_number() {
                    *sum += x;
                    *n = n.saturating_add(1);
                }
            }
            Acc::Stddev { n, mean, m2 } => {
                if let Some(x) = value.as_number() {
                    *n = n.saturating_add(1);
                    let delta = x - *mean;
                    *mean += delta / *n as f64;
                    *m2 += delta * (x - *mean);
                }
            }
            Acc::Pct(values) => {
                if let Some(x) = value.as_number() {
                    values.push(x);
                }
            }
            Acc::Extreme { max, number, other } => match value.as_number() {
                Some(x) => {
                    let better = number.as_ref().is_none_or(|(best, _)| if *max { x > *best } else { x < *best });
                    if better {
                        *number = Some((x, value));
                    }
                }
                None => {
                    let want = if *max { Ordering::Greater } else { Ordering::Less };
                    if other.as_ref().is_none_or(|best| natural_cmp(&value, best) == want) {
                        *other = Some(value);
                    }
                }
            },
            Acc::Timed { latest, best } => {
                let Some(ts) = row.get("@timestamp").as_time() else { return };
                if best.as_ref().is_none_or(|(t, _)| if *latest { ts > *t } else { ts < *t }) {
                    *best = Some((ts, value));
                }
            }
            Acc::Sorts { last, best } => {
                let want = if *last { Ordering::Greater } else { Ordering::Less };
                if best.as_ref().is_none_or(|b| natural_cmp(&value, b) == want) {
                    *best = Some(value);
                }
            }
        }
    }

    fn finish(self, call: &AggCall) -> Value {
        match self {
            Acc::Count(n) => Value::Num(n as f64),
            Acc::Distinct(seen) => Value::Num(seen.len() as f64),
            Acc::Sum { sum, n } if n > 0 => Value::num(sum),
            Acc::Avg { sum, n } if n > 0 => Value::num(sum / n as f64),
            Acc::Sum { .. } | Acc::Avg { .. } => Value::Null,
            Acc::Stddev { n, m2, .. } => match n {
                0 => Value::Null,
                1 => Value::Num(0.0),
                _ => Value::num((m2 / (n - 1) as f64).sqrt()),
            },
            Acc::Pct(mut values) => {
                values.sort_by(f64::total_cmp);
                // Nearest rank: the smallest value with at least `percent`% of values at or below it.
                let rank = (call.percent / 100.0 * values.len() as f64).ceil() as usize;
                let index = rank.clamp(1, values.len().max(1)) - 1;
                values.get(index).map_or(Value::Null, |x| Value::Num(*x))
            }
            Acc::Extreme { number, other, .. } => number.map(|(_, v)| v).or(other).unwrap_or(Value::Null),
            Acc::Timed { best, .. } => best.map_or(Value::Null, |(_, v)| v),
            Acc::Sorts { best, .. } => best.unwrap_or(Value::Null),
        }
    }
}

/// The groups of a `stats` command.
#[derive(Debug)]
struct Aggregator {
    spec: StatsCmd,
    index: HashMap<Vec<Option<String>>, usize>,
    groups: Vec<(Vec<Value>, Vec<Acc>)>,
}

impl Aggregator {
    fn new(spec: StatsCmd) -> Aggregator {
        Aggregator { spec, index: HashMap::new(), groups: Vec::new() }
    }

    fn fresh(&self) -> Vec<Acc> {
        self.spec.aggregates.iter().map(|a| Acc::new(a.func)).collect()
    }

    fn push(&mut self, row: &Row) {
        let keys: Vec<Value> = self.spec.by.iter().map(|p| eval(&p.expr, row, &[])).collect();
        let id: Vec<Option<String>> = keys.iter().map(Value::group_key).collect();
        let slot = match self.index.get(&id) {
            Some(&i) => i,
            None => {
                let accs = self.fresh();
                self.groups.push((keys, accs));
                let i = self.groups.len() - 1;
                self.index.insert(id, i);
                i
            }
        };
        if let Some((_, accs)) = self.groups.get_mut(slot) {
            for (acc, call) in accs.iter_mut().zip(&self.spec.aggregates) {
                acc.update(call, row);
            }
        }
    }

    /// One row per group: the `by` fields, then the aggregates. Groups come in the
    /// order first seen, except that a time key (`bin`, `datefloor`, `dateceil`) orders
    /// them newest first. Without `by`, there is always one row.
    fn finish(mut self) -> Vec<Row> {
        if self.groups.is_empty() && self.spec.by.is_empty() {
            let accs = self.fresh();
            self.groups.push((Vec::new(), accs));
        }
        let time_key =
            self.spec.by.iter().position(|p| matches!(p.expr, Expr::Bin(_) | Expr::DateFloor(..) | Expr::DateCeil(..)));
        if let Some(k) = time_key {
            self.groups.sort_by(|(a, _), (b, _)| {
                let (x, y) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
                sort_cmp(x, y, true)
            });
        }
        let Aggregator { spec, groups, .. } = self;
        groups
            .into_iter()
            .map(|(keys, accs)| {
                let results: Vec<Value> =
                    accs.into_iter().zip(&spec.aggregates).map(|(acc, call)| acc.finish(call)).collect();
                let mut row = Row::default();
                for (p, key) in spec.by.iter().zip(keys) {
                    row.set(&p.name, key);
                }
                for out in &spec.outputs {
                    let v = eval(&out.expr, &row, &results);
                    row.set(&out.name, v);
                }
                row
            })
            .collect()
    }
}

/// One step of the per-event program.
#[derive(Debug)]
enum Step {
    Op(Command),
    /// Take the keys of a `sort` here.
    SortKeys(Vec<SortKey>),
}

#[derive(Debug)]
enum Sink {
    Aggregate(Aggregator),
    Top(TopN),
    Dedup(Dedup),
}

/// What result rows show.
#[derive(Debug)]
enum Columns {
    Names(Vec<String>),
    Display(Vec<Projection>),
}

/// A running query (see the module doc).
#[derive(Debug)]
pub(super) struct Engine {
    steps: Vec<Step>,
    sink: Sink,
    tail: Vec<Command>,
    columns: Columns,
    cap: usize,
    seq: u64,
    pub(super) scanned: u64,
    pub(super) matched: u64,
    pub(super) bytes: u64,
}

impl Engine {
    /// Plans a program whose results are cut to `cap` rows.
    pub(super) fn new(program: &Program, cap: usize) -> Engine {
        let commands = &program.commands;
        let columns = output_columns(program);
        let mut steps = Vec::new();
        let (sink, tail) = match commands.iter().position(|c| matches!(c, Command::Stats(_))) {
            Some(at) => {
                steps.extend(commands.iter().take(at).cloned().map(Step::Op));
                let spec = match commands.get(at) {
                    Some(Command::Stats(s)) => s.clone(),
                    _ => StatsCmd { aggregates: Vec::new(), outputs: Vec::new(), by: Vec::new() },
                };
                (Sink::Aggregate(Aggregator::new(spec)), commands.iter().skip(at + 1).cloned().collect())
            }
            None => {
                let mut sorts: Vec<Vec<bool>> = Vec::new();
                let mut stop = None;
                for (i, command) in commands.iter().enumerate() {
                    match command {
                        Command::Sort(keys) => {
                            sorts.push(keys.iter().map(|k| k.descending).collect());
                            steps.push(Step::SortKeys(keys.clone()));
                        }
                        Command::Limit(_) | Command::Dedup(_) => {
                            stop = Some(i);
                            break;
                        }
                        other => steps.push(Step::Op(other.clone())),
                    }
                }
                let descending: Vec<bool> = sorts.into_iter().rev().flatten().collect();
                let after = |i: usize| commands.iter().skip(i + 1).cloned().collect();
                match stop.and_then(|i| commands.get(i).map(|c| (i, c))) {
                    Some((i, Command::Limit(n))) => (Sink::Top(TopN::new(descending, *n)), after(i)),
                    Some((i, Command::Dedup(fields))) => {
                        let missing = TopN::new(descending, cap);
                        (Sink::Dedup(Dedup { fields: fields.clone(), winners: HashMap::new(), missing, cap }), after(i))
                    }
                    _ => (Sink::Top(TopN::new(descending, cap)), Vec::new()),
                }
            }
        };
        Engine { steps, sink, tail, columns, cap, seq: 0, scanned: 0, matched: 0, bytes: 0 }
    }

    pub(super) fn push(&mut self, event: &LogEvent) {
        self.scanned = self.scanned.saturating_add(1);
        self.bytes = self.bytes.saturating_add(event.message.len() as u64);
        let mut row = Row::from_event(event);
        let mut snapshots: Vec<Vec<Value>> = Vec::new();
        for step in &self.steps {
            match step {
                Step::Op(command) => {
                    if !apply_row_op(command, &mut row) {
                        return;
                    }
                }
                Step::SortKeys(keys) => snapshots.push(keys.iter().map(|k| eval(&k.expr, &row, &[])).collect()),
            }
        }
        self.matched = self.matched.saturating_add(1);
        let key = OrderKey {
            keys: snapshots.into_iter().rev().flatten().collect(),
            timestamp: event.timestamp,
            seq: self.seq,
        };
        self.seq = self.seq.saturating_add(1);
        match &mut self.sink {
            Sink::Aggregate(agg) => agg.push(&row),
            Sink::Top(top) => top.offer(Entry { key, row }),
            Sink::Dedup(dedup) => dedup.offer(Entry { key, row }),
        }
    }

    /// The result rows, each a list of (field, value) without missing fields.
    pub(super) fn finish(self) -> Vec<Vec<(String, String)>> {
        let rows = match self.sink {
            Sink::Aggregate(agg) => agg.finish(),
            Sink::Top(top) => top.finish().into_iter().map(|e| e.row).collect(),
            Sink::Dedup(dedup) => dedup.finish().into_iter().map(|e| e.row).collect(),
        };
        let mut rows = execute(&self.tail, rows);
        rows.truncate(self.cap);
        rows.iter().map(|row| project(&self.columns, row)).collect()
    }
}

/// Runs commands over rows held in memory.
fn execute(commands: &[Command], mut rows: Vec<Row>) -> Vec<Row> {
    for command in commands {
        rows = match command {
            Command::Fields(_) | Command::Filter(_) | Command::Parse(_) => {
                rows.into_iter().filter_map(|mut r| apply_row_op(command, &mut r).then_some(r)).collect()
            }
            Command::Stats(spec) => {
                let mut agg = Aggregator::new(spec.clone());
                rows.iter().for_each(|r| agg.push(r));
                agg.finish()
            }
            Command::Sort(keys) => {
                let descending: Vec<bool> = keys.iter().map(|k| k.descending).collect();
                let mut keyed: Vec<(Vec<Value>, Row)> =
                    rows.into_iter().map(|r| (keys.iter().map(|k| eval(&k.expr, &r, &[])).collect(), r)).collect();
                keyed.sort_by(|a, b| keys_cmp(&descending, &a.0, &b.0));
                keyed.into_iter().map(|(_, r)| r).collect()
            }
            Command::Limit(n) => {
                rows.truncate(*n);
                rows
            }
            Command::Dedup(fields) => {
                let mut seen = HashSet::new();
                rows.into_iter()
                    .filter(|r| {
                        let key: Option<Vec<String>> = fields.iter().map(|f| r.get(f).group_key()).collect();
                        key.is_none_or(|k| seen.insert(k))
                    })
                    .collect()
            }
        };
    }
    rows
}

/// The fields result rows show: the last `display`; else, after `stats`, its `by`
/// fields and aggregates plus fields computed after it; else every `fields` field;
/// else `@timestamp` and `@message`.
fn output_columns(program: &Program) -> Columns {
    if let Some(display) = &program.display {
        return Columns::Display(display.clone());
    }
    let commands = &program.commands;
    let last_stats = commands.iter().rposition(|c| matches!(c, Command::Stats(_)));
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    };
    if let Some(Command::Stats(s)) = last_stats.and_then(|i| commands.get(i)) {
        s.by.iter().chain(&s.outputs).for_each(|p| add(&p.name));
    }
    for command in commands.iter().skip(last_stats.map_or(0, |i| i + 1)) {
        if let Command::Fields(projections) = command {
            projections.iter().for_each(|p| add(&p.name));
        }
    }
    if names.is_empty() && last_stats.is_none() {
        names = vec!["@timestamp".to_string(), "@message".to_string()];
    }
    Columns::Names(names)
}

fn project(columns: &Columns, row: &Row) -> Vec<(String, String)> {
    match columns {
        Columns::Names(names) => names.iter().filter_map(|n| row.get(n).display().map(|v| (n.clone(), v))).collect(),
        Columns::Display(projections) => {
            projections.iter().filter_map(|p| eval(&p.expr, row, &[]).display().map(|v| (p.name.clone(), v))).collect()
        }
    }
}
