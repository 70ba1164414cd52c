//! Argument checks done at parse time, and the compiled, per-snapshot form of an
//! expression that is evaluated against container instances.

use std::cmp::Ordering;

use regex::Regex;

use super::{Arg, Comparison, CqlRegex, Expr, Op, Subject};
use crate::error::CqlError;
use crate::snapshot::{InstanceId, NO_VALUE, Snapshot, Sym};

fn invalid(c: &Comparison, value: &str, reason: impl Into<String>) -> CqlError {
    CqlError::InvalidArgument { column: c.column, value: value.into(), reason: reason.into() }
}

fn args(c: &Comparison) -> Vec<&str> {
    match &c.arg {
        Arg::None => Vec::new(),
        Arg::Value(v) => vec![v.as_str()],
        Arg::List(l) => l.iter().map(String::as_str).collect(),
    }
}

/// Validates a comparison's argument against its subject and operator; returns the
/// compiled regular expression of `matches` / `not_matches`.
pub(crate) fn check_argument(c: &Comparison) -> Result<Option<CqlRegex>, CqlError> {
    for v in args(c) {
        if matches!(c.op, Op::Matches | Op::NotMatches) {
            let re = anchored_regex(v).map_err(|e| {
                let first = e.to_string().lines().last().unwrap_or_default().trim().to_lowercase();
                invalid(c, v, format!("not a valid regular expression: {first}"))
            })?;
            return Ok(Some(CqlRegex(re)));
        }
        match c.subject {
            Subject::AgentConnected if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") => {
                return Err(invalid(c, v, "expected true or false"));
            }
            Subject::RunningTasksCount => {
                v.parse::<u64>().map_err(|_| invalid(c, v, "expected a non-negative integer"))?;
            }
            Subject::RegisteredAt => {
                parse_date(v).ok_or_else(|| {
                    invalid(
                        c,
                        v,
                        "expected a date such as 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, 2018-06-18T22:28:28 or 2018-06-18",
                    )
                })?;
            }
            _ => {}
        }
    }
    Ok(None)
}

fn anchored_regex(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// Whether `s` matches a pattern where `*` stands for any run of characters; `parts`
/// is the pattern split on `*` (so it has at least two parts).
fn glob_match(parts: &[String], s: &str) -> bool {
    let (first, last) = (&parts[0], &parts[parts.len() - 1]);
    if s.len() < first.len() + last.len() || !s.starts_with(first.as_str()) || !s.ends_with(last.as_str()) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid.as_str()) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// Parses a registeredAt argument to the half-open interval of epoch milliseconds it
/// designates (a whole day for a date, a whole second for a time).
pub(crate) fn parse_date(s: &str) -> Option<(i64, i64)> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let (y, m, d) = (num(dp.next()?, 4)?, num(dp.next()?, 2)?, num(dp.next()?, 2)?);
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day_ms = days_from_civil(y, m, d) * 86_400_000;
    let Some(time) = time else {
        return Some((day_ms, day_ms + 86_400_000));
    };
    let (clock, offset_min) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else if time.len() > 8 && (time.as_bytes()[8] == b'+' || time.as_bytes()[8] == b'-') {
        let (c, off) = time.split_at(8);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (c, sign * (num(oh, 2)? * 60 + num(om, 2)?))
    } else {
        (time, 0)
    };
    let mut cp = clock.split(':');
    let (h, mi, se) = (num(cp.next()?, 2)?, num(cp.next()?, 2)?, num(cp.next()?, 2)?);
    if cp.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let start = day_ms + ((h * 60 + mi - offset_min) * 60 + se) * 1000;
    Some((start, start + 1000))
}

fn version_parts(s: &str) -> Vec<u64> {
    s.trim_start_matches(['v', 'V']).split(['.', '-', '+']).map_while(|p| p.parse().ok()).collect()
}

fn cmp_versions(a: &[u64], b: &[u64]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let o = a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn ord_holds(op: Op, o: Ordering) -> bool {
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        _ => unreachable!("not an ordering operator"),
    }
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact(String, Option<Sym>),
    Glob(Vec<String>),
    Pattern(Regex),
}

impl Matcher {
    fn str(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(e, _) => e == s,
            Matcher::Glob(parts) => glob_match(parts, s),
            Matcher::Pattern(r) => r.is_match(s),
        }
    }

    fn sym(&self, sym: Sym, snap: &Snapshot) -> bool {
        match self {
            Matcher::Exact(_, e) => *e == Some(sym),
            _ => self.str(snap.interner.resolve(sym)),
        }
    }
}

#[derive(Debug, Clone)]
enum Ordered {
    Int(u64),
    Version(Vec<u64>),
    Time(i64, i64),
    Text(String, Option<f64>),
}

#[derive(Debug, Clone)]
enum Test {
    /// Eq / In / Matches: any matcher matches.
    Set(Vec<Matcher>),
    Exists,
    Ord(Op, Ordered),
}

#[derive(Debug, Clone)]
enum Field {
    AgentConnected,
    AgentVersion,
    Attribute(Option<Sym>),
    Ec2InstanceId,
    RegisteredAt,
    RunningTasksCount,
    TaskGroup,
}

#[derive(Debug, Clone)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Leaf { field: Field, test: Test, negate: bool },
}

/// An expression compiled against one snapshot: attribute names and values resolved to
/// the snapshot's symbols, wildcards and regular expressions compiled. Valid for that
/// snapshot as long as no instance is pushed (task changes are fine); compile again
/// after [`Snapshot::push`].
#[derive(Debug, Clone)]
pub struct Compiled {
    root: Node,
    dynamic: bool,
}

impl Compiled {
    /// Compiles `expr` for `snap`.
    pub fn new(expr: &Expr, snap: &Snapshot) -> Self {
        Self { root: compile(expr, snap), dynamic: expr.is_dynamic() }
    }

    /// Whether the expression reads state that placing tasks changes.
    pub fn is_dynamic(&self) -> bool {
        self.dynamic
    }

    /// Whether the container instance satisfies the expression.
    pub fn eval(&self, snap: &Snapshot, id: InstanceId) -> bool {
        eval(&self.root, snap, id)
    }

    /// Evaluates what does not change while tasks are placed: `Some(result)` when the
    /// static subjects alone decide the expression for this instance, `None` when the
    /// answer depends on `runningTasksCount` or `task:group` (three-valued logic).
    pub fn eval_static(&self, snap: &Snapshot, id: InstanceId) -> Option<bool> {
        eval3(&self.root, snap, id)
    }

    /// All container instances that satisfy the expression (e.g. for
    /// ListContainerInstances' `filter`).
    pub fn select(&self, snap: &Snapshot) -> Vec<InstanceId> {
        snap.ids().filter(|id| self.eval(snap, *id)).collect()
    }
}

fn compile(e: &Expr, snap: &Snapshot) -> Node {
    match e {
        Expr::And(a, b) => Node::And(Box::new(compile(a, snap)), Box::new(compile(b, snap))),
        Expr::Or(a, b) => Node::Or(Box::new(compile(a, snap)), Box::new(compile(b, snap))),
        Expr::Not(a) => Node::Not(Box::new(compile(a, snap))),
        Expr::Cmp(c) => compile_cmp(c, snap),
    }
}

fn compile_cmp(c: &Comparison, snap: &Snapshot) -> Node {
    let field = match &c.subject {
        Subject::AgentConnected => Field::AgentConnected,
        Subject::AgentVersion => Field::AgentVersion,
        Subject::Attribute(n) => Field::Attribute(snap.interner.get(n)),
        Subject::Ec2InstanceId => Field::Ec2InstanceId,
        Subject::RegisteredAt => Field::RegisteredAt,
        Subject::RunningTasksCount => Field::RunningTasksCount,
        Subject::TaskGroup => Field::TaskGroup,
    };
    let negate = matches!(c.op, Op::Ne | Op::NotIn | Op::NotMatches | Op::NotExists);
    let positive = match c.op {
        Op::Ne => Op::Eq,
        Op::NotIn => Op::In,
        Op::NotMatches => Op::Matches,
        Op::NotExists => Op::Exists,
        op => op,
    };
    let ordered_subject =
        matches!(c.subject, Subject::AgentVersion | Subject::RegisteredAt | Subject::RunningTasksCount);
    let test = match positive {
        Op::Exists => Test::Exists,
        Op::Matches => {
            let re = match &c.regex {
                Some(r) => r.0.clone(),
                None => anchored_regex(args(c)[0]).expect("regex checked at parse time"),
            };
            Test::Set(vec![Matcher::Pattern(re)])
        }
        Op::Eq if !ordered_subject => Test::Set(args(c).into_iter().map(|v| set_matcher(c, v, snap)).collect()),
        Op::In => Test::Set(args(c).into_iter().map(|v| set_matcher(c, v, snap)).collect()),
        op => {
            let v = args(c)[0];
            let ordered = match c.subject {
                Subject::RunningTasksCount => Ordered::Int(v.parse().expect("integer checked at parse time")),
                Subject::AgentVersion => Ordered::Version(version_parts(v)),
                Subject::RegisteredAt => {
                    let (s, e) = parse_date(v).expect("date checked at parse time");
                    Ordered::Time(s, e)
                }
                _ => Ordered::Text(v.to_owned(), v.parse().ok()),
            };
            Test::Ord(op, ordered)
        }
    };
    Node::Leaf { field, test, negate }
}

fn set_matcher(c: &Comparison, v: &str, snap: &Snapshot) -> Matcher {
    let v = if matches!(c.subject, Subject::AgentConnected) { v.to_ascii_lowercase() } else { v.to_owned() };
    if v.contains('*') {
        Matcher::Glob(v.split('*').map(str::to_owned).collect())
    } else {
        let sym = snap.interner.get(&v);
        Matcher::Exact(v, sym)
    }
}

fn eval3(n: &Node, snap: &Snapshot, id: InstanceId) -> Option<bool> {
    match n {
        Node::And(a, b) => match (eval3(a, snap, id), eval3(b, snap, id)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Node::Or(a, b) => match (eval3(a, snap, id), eval3(b, snap, id)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Node::Not(a) => eval3(a, snap, id).map(|v| !v),
        Node::Leaf { field: Field::RunningTasksCount | Field::TaskGroup, .. } => None,
        Node::Leaf { field, test, negate } => Some(leaf(field, test, snap, id) != *negate),
    }
}

fn eval(n: &Node, snap: &Snapshot, id: InstanceId) -> bool {
    match n {
        Node::And(a, b) => eval(a, snap, id) && eval(b, snap, id),
        Node::Or(a, b) => eval(a, snap, id) || eval(b, snap, id),
        Node::Not(a) => !eval(a, snap, id),
        Node::Leaf { field, test, negate } => leaf(field, test, snap, id) != *negate,
    }
}

fn leaf(field: &Field, test: &Test, snap: &Snapshot, id: InstanceId) -> bool {
    let inst = snap.inst(id);
    match field {
        Field::Attribute(name) => {
            let Some(value) = name.and_then(|n| inst.attr(n)) else {
                return false;
            };
            match test {
                Test::Exists => true,
                _ if value == NO_VALUE => false,
                Test::Set(ms) => ms.iter().any(|m| m.sym(value, snap)),
                Test::Ord(op, Ordered::Text(arg, arg_num)) => {
                    let s = snap.interner.resolve(value);
                    let o = match (s.parse::<f64>().ok(), arg_num) {
                        (Some(a), Some(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
                        _ => s.cmp(arg.as_str()),
                    };
                    ord_holds(*op, o)
                }
                Test::Ord(..) => false,
            }
        }
        Field::TaskGroup => match test {
            Test::Exists => inst.groups.iter().any(|(_, c)| *c > 0),
            Test::Set(ms) => inst
                .groups
                .iter()
                .filter(|(_, c)| *c > 0)
                .any(|(g, _)| ms.iter().any(|m| m.str(snap.interner.resolve(*g)))),
            Test::Ord(..) => false,
        },
        Field::AgentConnected => match test {
            Test::Set(ms) => {
                let s = if inst.agent_connected { "true" } else { "false" };
                ms.iter().any(|m| m.str(s))
            }
            _ => false,
        },
        Field::Ec2InstanceId => match test {
            Test::Set(ms) => ms.iter().any(|m| m.str(&inst.ec2_instance_id)),
            _ => false,
        },
        Field::AgentVersion => match test {
            Test::Ord(op, Ordered::Version(v)) => {
                let have = version_parts(snap.interner.resolve(inst.agent_version));
                ord_holds(*op, cmp_versions(&have, v))
            }
            _ => false,
        },
        Field::RunningTasksCount => match test {
            Test::Ord(op, Ordered::Int(n)) => ord_holds(*op, (inst.running_tasks as u64).cmp(n)),
            _ => false,
        },
        Field::RegisteredAt => match test {
            Test::Ord(op, Ordered::Time(start, end)) => {
                let t = inst.registered_at_ms;
                match op {
                    Op::Eq => t >= *start && t < *end,
                    Op::Gt => t >= *end,
                    Op::Ge => t >= *start,
                    Op::Lt => t < *start,
                    Op::Le => t < *end,
                    _ => false,
                }
            }
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cql::parse;
    use crate::snapshot::{InstanceSpec, attrs};

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::new();
        let mut a = InstanceSpec::new("arn:ci/a", "i-aaa", 1024, 1024)
            .attribute(attrs::AVAILABILITY_ZONE, Some("us-east-1a"))
            .attribute(attrs::INSTANCE_TYPE, Some("t2.small"))
            .attribute("gpu", None)
            .attribute("rack", Some("10"))
            .group("service:web", 1)
            .group("family:db", 2);
        a.agent_version = "1.9.0".into();
        a.registered_at_ms = parse_date("2018-06-18T22:28:28Z").unwrap().0;
        s.push(a);
        let mut b = InstanceSpec::new("arn:ci/b", "i-bbb", 1024, 1024)
            .attribute(attrs::AVAILABILITY_ZONE, Some("us-east-1b"))
            .attribute(attrs::INSTANCE_TYPE, Some("m4.large"))
            .attribute("rack", Some("9"));
        b.agent_version = "1.10.2".into();
        b.agent_connected = false;
        b.registered_at_ms = parse_date("2019-01-01").unwrap().0;
        s.push(b);
        s
    }

    /// Table: expression -> which of [a, b] match.
    #[test]
    fn evaluates_every_operator() {
        let s = snapshot();
        let cases: &[(&str, [bool; 2])] = &[
            ("attribute:ecs.instance-type == t2.small", [true, false]),
            ("attribute:ecs.instance-type equals t2.small", [true, false]),
            ("attribute:ecs.instance-type == t2.*", [true, false]),
            ("attribute:ecs.instance-type == T2.small", [false, false]),
            ("attribute:ecs.instance-type != t2.small", [false, true]),
            ("attribute:ecs.instance-type =~ t2\\..*", [true, false]),
            ("attribute:ecs.instance-type =~ t2", [false, false]),
            ("attribute:ecs.instance-type =~ (t2|m4).*", [true, true]),
            ("attribute:ecs.instance-type !~ t2.*", [false, true]),
            ("attribute:ecs.availability-zone in [us-east-1a, us-east-1c]", [true, false]),
            ("attribute:ecs.availability-zone in ('us-east-1b')", [false, true]),
            ("attribute:ecs.availability-zone not_in [us-east-1a]", [false, true]),
            ("attribute:ecs.availability-zone !in [us-east-1*]", [false, false]),
            ("attribute:gpu exists", [true, false]),
            ("attribute:gpu !exists", [false, true]),
            ("attribute:gpu == x", [false, false]),
            ("attribute:gpu != x", [true, true]),
            ("attribute:nope exists", [false, false]),
            ("attribute:nope not_exists", [true, true]),
            ("attribute:rack > 9", [true, false]),
            ("attribute:rack >= 9", [true, true]),
            ("attribute:rack < 10", [false, true]),
            ("attribute:rack <= 10", [true, true]),
            ("attribute:rack less_than 10", [false, true]),
            ("agentConnected == true", [true, false]),
            ("agentConnected == FALSE", [false, true]),
            ("agentConnected != true", [false, true]),
            ("agentConnected in [true, false]", [true, true]),
            ("agentConnected =~ t.*", [true, false]),
            ("agentVersion > 1.9.0", [false, true]),
            ("agentVersion >= 1.9", [true, true]),
            ("agentVersion == 1.9.0", [true, false]),
            ("agentVersion < 1.10.0", [true, false]),
            ("agentVersion <= 1.10.2", [true, true]),
            ("ec2InstanceId == i-aaa", [true, false]),
            ("ec2InstanceId in ['i-aaa', 'i-bbb']", [true, true]),
            ("ec2InstanceId !in ['i-aaa']", [false, true]),
            ("ec2InstanceId matches i-b+", [false, true]),
            ("ec2InstanceId not_matches i-b+", [true, false]),
            ("registeredAt < 2018-06-19", [true, false]),
            ("registeredAt == 2018-06-18", [true, false]),
            ("registeredAt > 2018-06-18", [false, true]),
            ("registeredAt >= 2018-06-18T22:28:28+00:00", [true, true]),
            ("registeredAt > 2018-06-18T22:28:28", [false, true]),
            ("registeredAt <= 2018-06-18T23:28:28+01:00", [true, false]),
            ("registeredAt < 2018-06-18T22:28:28Z", [false, false]),
            ("runningTasksCount == 3", [true, false]),
            ("runningTasksCount > 0", [true, false]),
            ("runningTasksCount >= 0", [true, true]),
            ("runningTasksCount < 1", [false, true]),
            ("runningTasksCount <= 3", [true, true]),
            ("runningTasksCount != 0", [true, false]),
            ("task:group == service:web", [true, false]),
            ("task:group == family:*", [true, false]),
            ("task:group != service:web", [false, true]),
            ("task:group in [family:db, service:api]", [true, false]),
            ("task:group exists", [true, false]),
            ("not(task:group == database)", [true, true]),
            ("task:group =~ service:.*", [true, false]),
            // remaining word forms
            ("attribute:rack greater_than 9", [true, false]),
            ("attribute:rack greater_than_equal 10", [true, false]),
            ("attribute:rack less_than_equal 9", [false, true]),
            ("attribute:gpu exists", [true, false]),
            ("attribute:gpu not_exists", [false, true]),
            ("attribute:rack IN [9, 11]", [false, true]),
            ("ec2InstanceId not_in [i-aaa]", [false, true]),
            ("ec2InstanceId MATCHES i-a.*", [true, false]),
            ("agentConnected not_equals true", [false, true]),
            ("agentVersion less_than_equal 1.9.0", [true, false]),
            ("runningTasksCount greater_than_equal 3", [true, false]),
            ("registeredAt less_than 2019-01-01", [true, false]),
            ("task:group not_exists", [false, true]),
            ("task:group not_matches family:.*", [false, true]),
            ("AgentConnected == true", [true, false]),
            // compound forms and precedence
            ("attribute:rack == 9 or attribute:rack == 10 and agentConnected == false", [false, true]),
            ("(attribute:rack == 9 or attribute:rack == 10) and agentConnected == false", [false, true]),
            ("(attribute:rack == 9 || attribute:rack == 10) && agentConnected == true", [true, false]),
            ("!agentConnected == true", [false, true]),
            ("not attribute:gpu exists and not agentConnected == true", [false, true]),
            (
                "attribute:ecs.instance-type =~ t2.* and (attribute:ecs.availability-zone in [us-east-1a, us-east-1b] or runningTasksCount < 50)",
                [true, false],
            ),
        ];
        for (src, want) in cases {
            let e = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            let c = Compiled::new(&e, &s);
            let got = [c.eval(&s, InstanceId(0)), c.eval(&s, InstanceId(1))];
            assert_eq!(&got, want, "{src}");
        }
    }

    #[test]
    fn argument_errors() {
        for (src, col) in [
            ("agentConnected == yes", 19),
            ("runningTasksCount > -1", 21),
            ("registeredAt > 2018-13-01", 16),
            ("registeredAt > yesterday", 16),
            ("attribute:a =~ (", 16),
        ] {
            match parse(src) {
                Err(CqlError::InvalidArgument { column, .. }) => assert_eq!(column, col, "{src}"),
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn globs() {
        let g = |p: &str| p.split('*').map(str::to_owned).collect::<Vec<_>>();
        for (pat, s, want) in [
            ("t2.*", "t2.small", true),
            ("t2.*", "t2.", true),
            ("t2.*", "t3.small", false),
            ("*.small", "t2.small", true),
            ("*", "", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("ab*ba", "aba", false),
            ("t2.*", "xt2.small", false),
        ] {
            assert_eq!(glob_match(&g(pat), s), want, "{pat} {s}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some((0, 86_400_000)));
        assert_eq!(parse_date("1970-01-02T00:00:01Z"), Some((86_401_000, 86_402_000)));
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Some((0, 1000)));
        assert_eq!(parse_date("2000-03-01").unwrap().0 / 86_400_000, 11_017);
        assert_eq!(parse_date("2018-06-18T22:28:28"), parse_date("2018-06-18T22:28:28Z"));
        assert!(parse_date("2018-6-18").is_none());
        assert!(parse_date("2018-06-18T25:00:00").is_none());
    }

    #[test]
    fn static_part_decides_when_it_can() {
        let s = snapshot();
        let cases: &[(&str, [Option<bool>; 2])] = &[
            ("attribute:rack == 10", [Some(true), Some(false)]),
            ("runningTasksCount < 5", [None, None]),
            ("attribute:rack == 10 and runningTasksCount < 5", [None, Some(false)]),
            ("attribute:rack == 10 or runningTasksCount < 5", [Some(true), None]),
            ("not (attribute:rack == 10 or task:group exists)", [Some(false), None]),
        ];
        for (src, want) in cases {
            let c = Compiled::new(&parse(src).unwrap(), &s);
            let got = [c.eval_static(&s, InstanceId(0)), c.eval_static(&s, InstanceId(1))];
            assert_eq!(&got, want, "{src}");
        }
    }

    #[test]
    fn select_filters_instances() {
        let s = snapshot();
        let c = Compiled::new(&parse("attribute:rack exists").unwrap(), &s);
        assert_eq!(c.select(&s), vec![InstanceId(0), InstanceId(1)]);
        assert!(!c.is_dynamic());
        assert!(Compiled::new(&parse("runningTasksCount > 1").unwrap(), &s).is_dynamic());
    }
}
