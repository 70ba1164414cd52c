//! The parser: a recursive-descent parser from tokens to the [`Program`] syntax tree,
//! with the checks AWS makes before running a query (unknown commands and functions,
//! argument counts, regular expressions, `parse` field counts, at most two `stats`,
//! only `limit` after `dedup`).
//!
//! Commands are separated by `|`; a command word (`filter`, `sort`, …) at the start of
//! a line also starts a new command. Expression precedence, loosest first: `or`,
//! `and`, `not`, comparisons (`= != < <= > >=`, `like`, `=~`, `in`, `not like`,
//! `not in`), `+ -`, `* / %`, `^` (right-associative), unary `-`.

use super::QueryError;
use super::ast::{
    AggCall, AggFunc, BinOp, Command, Expr, Func, Matcher, ParseCmd, Program, Projection, SortKey, StatsCmd,
};
use super::lexer::{Tok, Token, line_col, tokenize};
use super::regex_compat;
use super::time::{Period, Unit};

/// The longest query AWS accepts, in characters.
pub(super) const MAX_QUERY_CHARS: usize = 10_000;
/// How deeply expressions may nest (parentheses, function arguments, `not`, `-`).
const MAX_NESTING: usize = 64;
/// How deep an expression tree may be (also bounds chains like `a + a + … + a`).
const MAX_DEPTH: usize = 128;
/// The most rows `limit` may ask for.
pub(super) const MAX_LIMIT: usize = 10_000;

const COMMANDS: [&str; 8] = ["fields", "display", "filter", "parse", "stats", "sort", "limit", "dedup"];
const UNSUPPORTED_COMMANDS: [&str; 16] = [
    "filterindex",
    "source",
    "pattern",
    "diff",
    "anomaly",
    "unmask",
    "unnest",
    "lookup",
    "join",
    "expand",
    "relevantfields",
    "head",
    "tail",
    "addtotals",
    "fillnull",
    "eval",
];

/// Parses query text.
pub(super) fn parse(src: &str) -> Result<Program, QueryError> {
    let len = src.chars().count();
    if len > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong { len, max: MAX_QUERY_CHARS });
    }
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err(QueryError::Empty);
    }
    let mut parser = Parser { src, toks, pos: 0, nesting: 0, aggs: None, in_agg: false };
    let program = parser.program()?;
    validate(&program.commands)?;
    Ok(program)
}

/// The pipeline rules AWS enforces.
fn validate(commands: &[Command]) -> Result<(), QueryError> {
    let stats: Vec<usize> =
        commands.iter().enumerate().filter(|(_, c)| matches!(c, Command::Stats(_))).map(|(i, _)| i).collect();
    if stats.len() > 2 {
        return Err(QueryError::TooManyStats);
    }
    if let Some(&last) = stats.last() {
        let early =
            commands.iter().take(last).find(|c| matches!(c, Command::Sort(_) | Command::Limit(_) | Command::Dedup(_)));
        if let Some(c) = early {
            return Err(QueryError::CommandBeforeStats(c.name().to_string()));
        }
    }
    if let Some(d) = commands.iter().position(|c| matches!(c, Command::Dedup(_))) {
        let after = commands.iter().skip(d + 1).find(|c| !matches!(c, Command::Limit(_)));
        if let Some(c) = after {
            return Err(QueryError::CommandAfterDedup(c.name().to_string()));
        }
    }
    Ok(())
}

/// A parsed command, or a `display` (kept apart: only the last one counts).
enum Parsed {
    Command(Command),
    Display(Vec<Projection>),
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    /// Current expression nesting.
    nesting: usize,
    /// The aggregates of the `stats` expression being parsed; `None` outside one.
    aggs: Option<Vec<AggCall>>,
    /// Whether the argument of an aggregate is being parsed.
    in_agg: bool,
}

/// An expression and the depth of its tree.
type Node = (Expr, usize);

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Tok> {
        self.toks.get(self.pos.saturating_add(ahead)).map(|t| &t.tok)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == Some(tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn is_word(&self, ahead: usize, word: &str) -> bool {
        matches!(self.peek_at(ahead), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.is_word(0, word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), QueryError> {
        if self.eat(tok) { Ok(()) } else { Err(self.unexpected(what)) }
    }

    /// The error for the current token when `expected` was wanted.
    fn unexpected(&self, expected: &str) -> QueryError {
        match self.toks.get(self.pos) {
            None => QueryError::UnexpectedEnd { expected: expected.to_string() },
            Some(t) => {
                let (line, column) = line_col(self.src, t.start);
                let found = self.src.get(t.start..t.end).unwrap_or_default().to_string();
                QueryError::UnexpectedToken { found, expected: expected.to_string(), line, column }
            }
        }
    }

    /// The query text of tokens `from..to`.
    fn text(&self, from: usize, to: usize) -> String {
        let start = self.toks.get(from).map_or(0, |t| t.start);
        let end = to.checked_sub(1).and_then(|i| self.toks.get(i)).map_or(start, |t| t.end);
        self.src.get(start..end).unwrap_or_default().trim().to_string()
    }

    fn program(&mut self) -> Result<Program, QueryError> {
        let mut commands = Vec::new();
        let mut display = None;
        loop {
            match self.command()? {
                Parsed::Command(c) => commands.push(c),
                Parsed::Display(d) => display = Some(d),
            }
            match self.toks.get(self.pos) {
                None => break,
                Some(t) if t.tok == Tok::Pipe => {
                    self.pos += 1;
                    if self.peek().is_none() {
                        return Err(self.unexpected("a command after '|'"));
                    }
                }
                Some(t) if t.line_start && self.starts_command() => {}
                Some(_) => return Err(self.unexpected("'|' or the end of the query")),
            }
        }
        Ok(Program { commands, display })
    }

    fn starts_command(&self) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if COMMANDS.iter().chain(UNSUPPORTED_COMMANDS.iter()).any(|c| w.eq_ignore_ascii_case(c)))
    }

    fn command(&mut self) -> Result<Parsed, QueryError> {
        let at = self.pos;
        let Some(Tok::Word(word)) = self.peek().cloned() else {
            return Err(self.unexpected("a command"));
        };
        self.pos += 1;
        let lower = word.to_ascii_lowercase();
        Ok(Parsed::Command(match lower.as_str() {
            "fields" => Command::Fields(self.projections()?),
            "display" => return Ok(Parsed::Display(self.projections()?)),
            "filter" => Command::Filter(self.expr()?.0),
            "parse" => Command::Parse(self.parse_command()?),
            "stats" => Command::Stats(self.stats()?),
            "sort" => Command::Sort(self.sort_keys()?),
            "limit" => Command::Limit(self.limit()?),
            "dedup" => Command::Dedup(self.names()?),
            _ if UNSUPPORTED_COMMANDS.contains(&lower.as_str()) => return Err(QueryError::UnsupportedCommand(word)),
            _ => {
                let (line, column) = self.toks.get(at).map_or((1, 1), |t| line_col(self.src, t.start));
                return Err(QueryError::UnknownCommand { name: word, line, column });
            }
        }))
    }

    /// `e [as name], …`
    fn projections(&mut self) -> Result<Vec<Projection>, QueryError> {
        let mut out = Vec::new();
        loop {
            let from = self.pos;
            let (expr, _) = self.expr()?;
            let text = self.text(from, self.pos);
            let name = if self.eat_word("as") {
                self.name()?
            } else if let Expr::Field(f) = &expr {
                f.clone()
            } else {
                text
            };
            out.push(Projection { expr, name });
            if !self.eat(&Tok::Comma) {
                return Ok(out);
            }
        }
    }

    /// A field name: a word or a backtick-quoted name.
    fn name(&mut self) -> Result<String, QueryError> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            Some(Tok::Quoted(q)) if !q.is_empty() => {
                let q = q.clone();
                self.pos += 1;
                Ok(q)
            }
            _ => Err(self.unexpected("a field name")),
        }
    }

    fn names(&mut self) -> Result<Vec<String>, QueryError> {
        let mut out = vec![self.name()?];
        while self.eat(&Tok::Comma) {
            out.push(self.name()?);
        }
        Ok(out)
    }

    /// `parse [field] "glob" as n1, …` or `parse [field] /regex/`.
    fn parse_command(&mut self) -> Result<ParseCmd, QueryError> {
        let source = match self.peek() {
            Some(Tok::Str(_) | Tok::Regex(_)) => Expr::Field("@message".to_string()),
            _ => Expr::Field(self.name()?),
        };
        match self.peek().cloned() {
            Some(Tok::Str(glob)) => {
                self.pos += 1;
                if !self.eat_word("as") {
                    return Err(self.unexpected("'as' and the names of the fields to extract"));
                }
                let names = self.names()?;
                let wildcards = glob.matches('*').count();
                if wildcards != names.len() {
                    return Err(QueryError::ParseFieldCount { wildcards, fields: names.len() });
                }
                let pattern = regex_compat::compile(&glob_to_regex(&glob))?;
                let captures = names.into_iter().enumerate().map(|(i, n)| (i + 1, n)).collect();
                Ok(ParseCmd { source, pattern, captures })
            }
            Some(Tok::Regex(re)) => {
                self.pos += 1;
                let pattern = regex_compat::compile(&re)?;
                let captures: Vec<(usize, String)> =
                    pattern.capture_names().enumerate().filter_map(|(i, n)| n.map(|n| (i, n.to_string()))).collect();
                if captures.is_empty() {
                    return Err(QueryError::ParseWithoutNamedGroups);
                }
                Ok(ParseCmd { source, pattern, captures })
            }
            _ => Err(self.unexpected("a quoted glob pattern or a /regular expression/")),
        }
    }

    /// `stats e [as name], … [by e [as name], …]`.
    fn stats(&mut self) -> Result<StatsCmd, QueryError> {
        self.aggs = Some(Vec::new());
        let mut outputs = Vec::new();
        loop {
            let from = self.pos;
            let before = self.aggs.as_ref().map_or(0, Vec::len);
            let (expr, _) = self.expr()?;
            let text = self.text(from, self.pos);
            if self.aggs.as_ref().map_or(0, Vec::len) == before {
                return Err(QueryError::NoAggregate(text));
            }
            let name = if self.eat_word("as") { self.name()? } else { text };
            outputs.push(Projection { expr, name });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        let aggregates = self.aggs.take().unwrap_or_default();
        let by = if self.eat_word("by") { self.projections()? } else { Vec::new() };
        Ok(StatsCmd { aggregates, outputs, by })
    }

    /// `e [asc|desc], …` (ascending unless `desc`).
    fn sort_keys(&mut self) -> Result<Vec<SortKey>, QueryError> {
        let mut keys = Vec::new();
        loop {
            let (expr, _) = self.expr()?;
            let descending = if self.eat_word("desc") {
                true
            } else {
                self.eat_word("asc");
                false
            };
            keys.push(SortKey { expr, descending });
            if !self.eat(&Tok::Comma) {
                return Ok(keys);
            }
        }
    }

    fn limit(&mut self) -> Result<usize, QueryError> {
        let from = self.pos;
        match self.next() {
            Some(Tok::Num(n)) if n.fract() == 0.0 && n >= 1.0 && n <= MAX_LIMIT as f64 => Ok(n as usize),
            Some(Tok::Num(_) | Tok::Period(..)) => Err(QueryError::InvalidLimit(self.text(from, self.pos))),
            Some(Tok::Minus) if matches!(self.peek(), Some(Tok::Num(_))) => {
                self.pos += 1;
                Err(QueryError::InvalidLimit(self.text(from, self.pos)))
            }
            _ => {
                self.pos = from;
                Err(self.unexpected("the number of rows to return"))
            }
        }
    }

    /// Runs `f` one nesting level deeper.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, QueryError>) -> Result<T, QueryError> {
        if self.nesting >= MAX_NESTING {
            return Err(QueryError::TooDeep(MAX_NESTING));
        }
        self.nesting += 1;
        let result = f(self);
        self.nesting -= 1;
        result
    }

    /// Builds a node over children of depth `depth`.
    fn node(expr: Expr, depth: usize) -> Result<Node, QueryError> {
        let depth = depth.saturating_add(1);
        if depth > MAX_DEPTH { Err(QueryError::TooDeep(MAX_DEPTH)) } else { Ok((expr, depth)) }
    }

    fn binary(op: BinOp, (l, ld): Node, (r, rd): Node) -> Result<Node, QueryError> {
        Self::node(Expr::Binary(op, Box::new(l), Box::new(r)), ld.max(rd))
    }

    fn expr(&mut self) -> Result<Node, QueryError> {
        self.nested(Self::or_expr)
    }

    fn or_expr(&mut self) -> Result<Node, QueryError> {
        let mut left = self.and_expr()?;
        while self.eat_word("or") {
            let right = self.and_expr()?;
            left = Self::binary(BinOp::Or, left, right)?;
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Node, QueryError> {
        let mut left = self.not_expr()?;
        while self.eat_word("and") {
            let right = self.not_expr()?;
            left = Self::binary(BinOp::And, left, right)?;
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Node, QueryError> {
        if self.eat_word("not") {
            let (inner, depth) = self.nested(Self::not_expr)?;
            return Self::node(Expr::Not(Box::new(inner)), depth);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Node, QueryError> {
        let left = self.additive()?;
        let op = match self.peek() {
            Some(Tok::Eq) => BinOp::Eq,
            Some(Tok::Ne) => BinOp::Ne,
            Some(Tok::Lt) => BinOp::Lt,
            Some(Tok::Le) => BinOp::Le,
            Some(Tok::Gt) => BinOp::Gt,
            Some(Tok::Ge) => BinOp::Ge,
            Some(Tok::Match) => {
                self.pos += 1;
                return self.like(left, false);
            }
            _ if self.is_word(0, "like") => {
                self.pos += 1;
                return self.like(left, false);
            }
            _ if self.is_word(0, "in") => {
                self.pos += 1;
                return self.in_list(left, false);
            }
            _ if self.is_word(0, "not") && self.is_word(1, "like") => {
                self.pos += 2;
                return self.like(left, true);
            }
            _ if self.is_word(0, "not") && self.is_word(1, "in") => {
                self.pos += 2;
                return self.in_list(left, true);
            }
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.additive()?;
        Self::binary(op, left, right)
    }

    fn like(&mut self, (left, depth): Node, negated: bool) -> Result<Node, QueryError> {
        let matcher = match self.peek().cloned() {
            Some(Tok::Str(s)) => Matcher::Substring(s),
            Some(Tok::Regex(r)) => Matcher::Regex(regex_compat::compile(&r)?),
            _ => return Err(self.unexpected("a quoted string or a /regular expression/")),
        };
        self.pos += 1;
        let (like, depth) = Self::node(Expr::Like(Box::new(left), matcher), depth)?;
        if negated { Self::node(Expr::Not(Box::new(like)), depth) } else { Ok((like, depth)) }
    }

    fn in_list(&mut self, (left, mut depth): Node, negated: bool) -> Result<Node, QueryError> {
        self.expect(&Tok::LBracket, "'[' and a list of values")?;
        let mut items = Vec::new();
        if !self.eat(&Tok::RBracket) {
            loop {
                let (item, d) = self.expr()?;
                depth = depth.max(d);
                items.push(item);
                if !self.eat(&Tok::Comma) {
                    self.expect(&Tok::RBracket, "',' or ']'")?;
                    break;
                }
            }
        }
        let (inside, depth) = Self::node(Expr::In(Box::new(left), items), depth)?;
        if negated { Self::node(Expr::Not(Box::new(inside)), depth) } else { Ok((inside, depth)) }
    }

    fn additive(&mut self) -> Result<Node, QueryError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => BinOp::Add,
                Some(Tok::Minus) => BinOp::Sub,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.multiplicative()?;
            left = Self::binary(op, left, right)?;
        }
    }

    fn multiplicative(&mut self) -> Result<Node, QueryError> {
        let mut left = self.power()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Star) => BinOp::Mul,
                Some(Tok::Slash) => BinOp::Div,
                Some(Tok::Percent) => BinOp::Mod,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.power()?;
            left = Self::binary(op, left, right)?;
        }
    }

    fn power(&mut self) -> Result<Node, QueryError> {
        let base = self.unary()?;
        if self.eat(&Tok::Caret) {
            let exponent = self.nested(Self::power)?;
            return Self::binary(BinOp::Pow, base, exponent);
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<Node, QueryError> {
        if self.eat(&Tok::Minus) {
            let (inner, depth) = self.nested(Self::unary)?;
            return Self::node(Expr::Neg(Box::new(inner)), depth);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, QueryError> {
        let leaf = |e: Expr| Ok((e, 1));
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                leaf(Expr::Num(n))
            }
            Some(Tok::Str(s)) => {
                self.pos += 1;
                leaf(Expr::Str(s))
            }
            Some(Tok::Quoted(q)) if !q.is_empty() => {
                self.pos += 1;
                leaf(Expr::Field(q))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let inner = self.expr()?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(inner)
            }
            Some(Tok::Word(w)) if self.peek_at(1) == Some(&Tok::LParen) => {
                self.pos += 2;
                self.call(&w)
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                if w.eq_ignore_ascii_case("true") {
                    leaf(Expr::Num(1.0))
                } else if w.eq_ignore_ascii_case("false") {
                    leaf(Expr::Num(0.0))
                } else {
                    leaf(Expr::Field(w))
                }
            }
            Some(Tok::Period(..)) => Err(self.unexpected("a value (time periods go in bin, datefloor and dateceil)")),
            Some(Tok::Regex(_)) => Err(self.unexpected("a value (regular expressions go after like or =~)")),
            _ => Err(self.unexpected("a value")),
        }
    }

    /// A function call; the name and `(` are consumed.
    fn call(&mut self, name: &str) -> Result<Node, QueryError> {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "bin" => {
                let period = self.period()?;
                self.expect(&Tok::RParen, "')'")?;
                return Ok((Expr::Bin(period), 1));
            }
            "datefloor" | "dateceil" => {
                let (arg, depth) = self.expr()?;
                self.expect(&Tok::Comma, "',' and a time period")?;
                let period = self.period()?;
                self.expect(&Tok::RParen, "')'")?;
                let e = if lower == "datefloor" {
                    Expr::DateFloor(Box::new(arg), period)
                } else {
                    Expr::DateCeil(Box::new(arg), period)
                };
                return Self::node(e, depth);
            }
            _ => {}
        }
        if let Some(func) = AggFunc::from_name(&lower) {
            if self.in_agg {
                return Err(QueryError::NestedAggregate(name.to_string()));
            }
            if self.aggs.is_none() {
                return Err(QueryError::AggregateOutsideStats(name.to_string()));
            }
            self.in_agg = true;
            let call = self.aggregate(func, name);
            self.in_agg = false;
            let call = call?;
            let aggs = self.aggs.get_or_insert_with(Vec::new);
            aggs.push(call);
            return Ok((Expr::Agg(aggs.len() - 1), 1));
        }
        let Some((func, min, max)) = Func::from_name(&lower) else {
            return Err(QueryError::UnknownFunction(name.to_string()));
        };
        let mut args = Vec::new();
        let mut depth = 0;
        if !self.eat(&Tok::RParen) {
            loop {
                let (arg, d) = self.expr()?;
                depth = depth.max(d);
                args.push(arg);
                if !self.eat(&Tok::Comma) {
                    self.expect(&Tok::RParen, "',' or ')'")?;
                    break;
                }
            }
        }
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            let expected = match max {
                Some(m) if m == min => min.to_string(),
                Some(m) => format!("{min} to {m}"),
                None => format!("at least {min}"),
            };
            return Err(QueryError::WrongArgumentCount { function: name.to_string(), expected, found: args.len() });
        }
        Self::node(Expr::Call(func, args), depth)
    }

    /// An aggregate's arguments; the name and `(` are consumed.
    fn aggregate(&mut self, func: AggFunc, name: &str) -> Result<AggCall, QueryError> {
        let wrong = |found| QueryError::WrongArgumentCount {
            function: name.to_string(),
            expected: if func == AggFunc::Pct { "2" } else { "1" }.to_string(),
            found,
        };
        if func == AggFunc::Count {
            if self.eat(&Tok::RParen) {
                return Ok(AggCall { func, arg: None, percent: 0.0 });
            }
            if self.peek() == Some(&Tok::Star) && self.peek_at(1) == Some(&Tok::RParen) {
                self.pos += 2;
                return Ok(AggCall { func, arg: None, percent: 0.0 });
            }
        }
        if self.peek() == Some(&Tok::RParen) {
            return Err(wrong(0));
        }
        let (arg, _) = self.expr()?;
        let mut percent = 0.0;
        if func == AggFunc::Pct {
            self.expect(&Tok::Comma, "',' and a percentile from 0 to 100")?;
            let from = self.pos;
            match self.next() {
                Some(Tok::Num(p)) if (0.0..=100.0).contains(&p) => percent = p,
                _ => {
                    return Err(QueryError::InvalidArgument {
                        function: name.to_string(),
                        reason: format!("expected a percentile from 0 to 100, found '{}'", self.text(from, self.pos)),
                    });
                }
            }
        }
        if self.peek() == Some(&Tok::Comma) {
            let mut found = if func == AggFunc::Pct { 2 } else { 1 };
            while self.eat(&Tok::Comma) {
                found += 1;
                self.expr()?;
            }
            return Err(wrong(found));
        }
        self.expect(&Tok::RParen, "')'")?;
        Ok(AggCall { func, arg: Some(arg), percent })
    }

    /// A time period such as `5m`.
    fn period(&mut self) -> Result<Period, QueryError> {
        let Some(Tok::Period(number, unit)) = self.peek().cloned() else {
            return Err(self.unexpected("a time period such as 5m or 1h"));
        };
        self.pos += 1;
        let amount = number.parse::<u32>().ok().filter(|n| *n > 0);
        match (amount, Unit::from_suffix(&unit)) {
            (Some(amount), Some(unit)) => Ok(Period::new(amount, unit)),
            _ => Err(QueryError::InvalidPeriod(format!("{number}{unit}"))),
        }
    }
}

/// The regular expression of a `parse` glob: literal text, each `*` a lazy capture,
/// a trailing `*` capturing the rest. Like AWS, the glob may match anywhere.
fn glob_to_regex(glob: &str) -> String {
    let parts: Vec<&str> = glob.split('*').collect();
    let mut re = String::from("(?s)");
    let count = parts.len();
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            re.push_str(if i + 1 == count && part.is_empty() { "(.*)" } else { "(.*?)" });
        }
        re.push_str(&regex::escape(part));
    }
    re
}
