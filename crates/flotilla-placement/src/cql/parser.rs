//! Hand-written recursive-descent parser for CQL, working on characters so error
//! columns count characters, not bytes.

use super::{Arg, Comparison, Expr, Op, Subject};
use crate::error::CqlError;

/// Longest expression ECS accepts, in characters.
pub const MAX_EXPRESSION_LEN: usize = 2000;

/// Parses a CQL expression.
pub fn parse(input: &str) -> Result<Expr, CqlError> {
    let chars: Vec<char> = input.chars().collect();
    if chars.len() > MAX_EXPRESSION_LEN {
        return Err(CqlError::TooLong { len: chars.len(), max: MAX_EXPRESSION_LEN });
    }
    let mut p = Parser { s: &chars, i: 0 };
    p.skip_ws();
    if p.at_end() {
        return Err(p.expected("an expression"));
    }
    let e = p.or()?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.expected("and, or, or the end of the expression"));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Characters that end a subject token.
fn ends_subject(c: char) -> bool {
    c.is_whitespace() || "=!<>()[],&|~'\"".contains(c)
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn column(&self) -> usize {
        self.i + 1
    }

    /// Describes what is at the cursor, for errors.
    fn found(&self) -> String {
        if self.at_end() {
            return "end of expression".into();
        }
        let tok: String = self.s[self.i..].iter().take_while(|c| !c.is_whitespace()).take(20).collect();
        format!("{tok:?}")
    }

    fn expected(&self, what: &str) -> CqlError {
        CqlError::Syntax { column: self.column(), expected: what.into(), found: self.found() }
    }

    fn eat_str(&mut self, lit: &str) -> bool {
        let n = lit.chars().count();
        if self.s.len() - self.i.min(self.s.len()) < n {
            return false;
        }
        if self.s[self.i..self.i + n].iter().copied().eq(lit.chars()) {
            self.i += n;
            true
        } else {
            false
        }
    }

    /// Eats a case-insensitive keyword that is not followed by a word character.
    fn eat_word(&mut self, word: &str) -> bool {
        let n = word.chars().count();
        if self.s.len() - self.i.min(self.s.len()) < n {
            return false;
        }
        let matches = self.s[self.i..self.i + n].iter().zip(word.chars()).all(|(a, b)| a.eq_ignore_ascii_case(&b));
        if matches && !self.s.get(self.i + n).copied().is_some_and(is_word_char) {
            self.i += n;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, CqlError> {
        let mut left = self.and()?;
        loop {
            self.skip_ws();
            if self.eat_str("||") || self.eat_word("or") {
                let right = self.and()?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn and(&mut self) -> Result<Expr, CqlError> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            if self.eat_str("&&") || self.eat_word("and") {
                let right = self.unary()?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, CqlError> {
        self.skip_ws();
        if self.peek() == Some('!') && !matches!(self.s.get(self.i + 1), Some('=') | Some('~')) {
            self.i += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some('(') {
            self.i += 1;
            let e = self.or()?;
            self.skip_ws();
            if !self.eat_str(")") {
                return Err(self.expected("')'"));
            }
            return Ok(e);
        }
        self.comparison()
    }

    fn subject(&mut self) -> Result<Subject, CqlError> {
        let start = self.i;
        while self.peek().is_some_and(|c| !ends_subject(c)) {
            self.i += 1;
        }
        let tok: String = self.s[start..self.i].iter().collect();
        let lower = tok.to_ascii_lowercase();
        let subject = match lower.as_str() {
            "agentconnected" => Subject::AgentConnected,
            "agentversion" => Subject::AgentVersion,
            "ec2instanceid" => Subject::Ec2InstanceId,
            "registeredat" => Subject::RegisteredAt,
            "runningtaskscount" => Subject::RunningTasksCount,
            "task:group" => Subject::TaskGroup,
            _ if lower.starts_with("attribute:") && tok.len() > "attribute:".len() => {
                Subject::Attribute(tok["attribute:".len()..].to_owned())
            }
            _ => {
                self.i = start;
                return Err(self.expected(
                    "a subject (agentConnected, agentVersion, attribute:NAME, ec2InstanceId, registeredAt, runningTasksCount, task:group), '(' or not",
                ));
            }
        };
        Ok(subject)
    }

    fn operator(&mut self) -> Result<(Op, String), CqlError> {
        let start = self.i;
        let symbolic: [(&str, Op); 10] = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">=", Op::Ge),
            ("<=", Op::Le),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=~", Op::Matches),
            ("!~", Op::NotMatches),
            ("!exists", Op::NotExists),
            ("!in", Op::NotIn),
        ];
        for (lit, op) in symbolic {
            let word_like = lit.ends_with(|c: char| c.is_alphabetic());
            let ok = if word_like {
                self.eat_str("!") && {
                    let w = &lit[1..];
                    self.eat_word(w) || {
                        self.i = start;
                        false
                    }
                }
            } else {
                self.eat_str(lit)
            };
            if ok {
                return Ok((op, lit.to_owned()));
            }
        }
        let words: [(&str, Op); 12] = [
            ("equals", Op::Eq),
            ("not_equals", Op::Ne),
            ("greater_than_equal", Op::Ge),
            ("greater_than", Op::Gt),
            ("less_than_equal", Op::Le),
            ("less_than", Op::Lt),
            ("exists", Op::Exists),
            ("not_exists", Op::NotExists),
            ("in", Op::In),
            ("not_in", Op::NotIn),
            ("matches", Op::Matches),
            ("not_matches", Op::NotMatches),
        ];
        for (w, op) in words {
            if self.eat_word(w) {
                return Ok((op, w.to_owned()));
            }
        }
        Err(self.expected("an operator (==, !=, >, >=, <, <=, exists, !exists, in, !in, =~, !~ or their word forms)"))
    }

    /// Reads one literal. `list_close` is the list's closing bracket when inside one.
    fn value(&mut self, list_close: Option<char>) -> Result<String, CqlError> {
        self.skip_ws();
        match self.peek() {
            Some(q @ ('\'' | '"')) => {
                let open = self.i;
                self.i += 1;
                let start = self.i;
                while self.peek().is_some_and(|c| c != q) {
                    self.i += 1;
                }
                if self.at_end() {
                    self.i = open;
                    return Err(CqlError::Syntax {
                        column: open + 1,
                        expected: format!("a closing {q} for this quoted value"),
                        found: "end of expression".into(),
                    });
                }
                let v: String = self.s[start..self.i].iter().collect();
                self.i += 1;
                Ok(v)
            }
            _ => {
                let start = self.i;
                let mut depth = 0usize;
                while let Some(c) = self.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    if list_close.is_some() && (c == ',' || Some(c) == list_close) && depth == 0 {
                        break;
                    }
                    match c {
                        '(' | '[' => depth += 1,
                        ')' | ']' if depth == 0 => break,
                        ')' | ']' => depth -= 1,
                        _ => {}
                    }
                    self.i += 1;
                }
                if self.i == start {
                    return Err(self.expected("a value"));
                }
                Ok(self.s[start..self.i].iter().collect())
            }
        }
    }

    fn list(&mut self) -> Result<Vec<String>, CqlError> {
        self.skip_ws();
        let close = match self.peek() {
            Some('[') => ']',
            Some('(') => ')',
            _ => return Err(self.expected("a list such as [a, b]")),
        };
        self.i += 1;
        let mut items = Vec::new();
        loop {
            items.push(self.value(Some(close))?);
            self.skip_ws();
            if self.eat_str(",") {
                continue;
            }
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(items);
            }
            return Err(self.expected(&format!("',' or '{close}'")));
        }
    }

    fn comparison(&mut self) -> Result<Expr, CqlError> {
        self.skip_ws();
        let subject = self.subject()?;
        self.skip_ws();
        let op_col = self.column();
        let (op, op_text) = self.operator()?;
        if !subject.accepts(op) {
            return Err(CqlError::InvalidOperator { column: op_col, operator: op_text, subject: subject.name() });
        }
        self.skip_ws();
        let column = self.column();
        let arg = match op {
            Op::Exists | Op::NotExists => Arg::None,
            Op::In | Op::NotIn => Arg::List(self.list()?),
            _ => Arg::Value(self.value(None)?),
        };
        let column = if matches!(arg, Arg::None) { op_col } else { column };
        let mut cmp = Comparison { subject, op, arg, column, regex: None };
        cmp.regex = super::eval::check_argument(&cmp)?;
        Ok(Expr::Cmp(cmp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(subject: Subject, op: Op, arg: Arg, column: usize) -> Expr {
        let regex = match (&arg, op) {
            (Arg::Value(v), Op::Matches | Op::NotMatches) => {
                Some(super::super::CqlRegex(regex::Regex::new(&format!("^(?:{v})$")).unwrap()))
            }
            _ => None,
        };
        Expr::Cmp(Comparison { subject, op, arg, column, regex })
    }

    fn attr(n: &str) -> Subject {
        Subject::Attribute(n.into())
    }

    fn v(s: &str) -> Arg {
        Arg::Value(s.into())
    }

    #[test]
    fn operators_symbol_and_word_forms() {
        let cases: &[(&str, Op)] = &[
            ("attribute:a == x", Op::Eq),
            ("attribute:a equals x", Op::Eq),
            ("attribute:a EQUALS x", Op::Eq),
            ("attribute:a != x", Op::Ne),
            ("attribute:a not_equals x", Op::Ne),
            ("attribute:a > x", Op::Gt),
            ("attribute:a greater_than x", Op::Gt),
            ("attribute:a >= x", Op::Ge),
            ("attribute:a greater_than_equal x", Op::Ge),
            ("attribute:a < x", Op::Lt),
            ("attribute:a less_than x", Op::Lt),
            ("attribute:a <= x", Op::Le),
            ("attribute:a less_than_equal x", Op::Le),
            ("attribute:a =~ x", Op::Matches),
            ("attribute:a matches x", Op::Matches),
            ("attribute:a !~ x", Op::NotMatches),
            ("attribute:a not_matches x", Op::NotMatches),
        ];
        for (src, op) in cases {
            let e = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            match e {
                Expr::Cmp(c) => {
                    assert_eq!(c.op, *op, "{src}");
                    assert_eq!(c.arg, v("x"), "{src}");
                    assert_eq!(c.subject, attr("a"));
                }
                other => panic!("{src}: {other:?}"),
            }
        }
        let list_cases: &[(&str, Op, Arg)] = &[
            ("attribute:a exists", Op::Exists, Arg::None),
            ("attribute:a !exists", Op::NotExists, Arg::None),
            ("attribute:a not_exists", Op::NotExists, Arg::None),
            ("attribute:a in [x, y]", Op::In, Arg::List(vec!["x".into(), "y".into()])),
            ("attribute:a in (x,y)", Op::In, Arg::List(vec!["x".into(), "y".into()])),
            ("attribute:a !in [x]", Op::NotIn, Arg::List(vec!["x".into()])),
            ("attribute:a not_in ['x y', \"z\"]", Op::NotIn, Arg::List(vec!["x y".into(), "z".into()])),
        ];
        for (src, op, arg) in list_cases {
            match parse(src).unwrap_or_else(|e| panic!("{src}: {e}")) {
                Expr::Cmp(c) => {
                    assert_eq!(c.op, *op, "{src}");
                    assert_eq!(&c.arg, arg, "{src}");
                }
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn subjects() {
        let cases: &[(&str, Subject)] = &[
            ("agentConnected == true", Subject::AgentConnected),
            ("agentVersion >= 1.2.0", Subject::AgentVersion),
            ("ec2InstanceId == i-1", Subject::Ec2InstanceId),
            ("registeredAt < 2018-06-18", Subject::RegisteredAt),
            ("runningTasksCount == 0", Subject::RunningTasksCount),
            ("task:group == service:web", Subject::TaskGroup),
            ("attribute:ecs.availability-zone == us-east-1a", attr("ecs.availability-zone")),
        ];
        for (src, s) in cases {
            match parse(src).unwrap_or_else(|e| panic!("{src}: {e}")) {
                Expr::Cmp(c) => assert_eq!(&c.subject, s, "{src}"),
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn precedence_and_parentheses() {
        let a = || cmp(attr("a"), Op::Eq, v("1"), 16);
        // not > and > or
        let e = parse("attribute:a == 1 or attribute:b == 2 and not attribute:c == 3").unwrap();
        let Expr::Or(l, r) = e else { panic!("expected or at top") };
        assert_eq!(*l, a());
        let Expr::And(_, rr) = *r else { panic!("expected and under or") };
        assert!(matches!(*rr, Expr::Not(_)));

        let e = parse("(attribute:a == 1 || attribute:b == 2) && !attribute:c exists").unwrap();
        let Expr::And(l, r) = e else { panic!("expected and at top") };
        assert!(matches!(*l, Expr::Or(_, _)));
        assert!(matches!(*r, Expr::Not(_)));

        let e = parse("not(task:group == database)").unwrap();
        assert!(matches!(e, Expr::Not(_)));
        let e = parse("NOT (task:group == database) AND attribute:x exists").unwrap();
        assert!(matches!(e, Expr::And(_, _)));
    }

    #[test]
    fn regex_value_keeps_balanced_parentheses() {
        let e = parse("(attribute:t =~ (t2|m4).* )").unwrap();
        assert_eq!(e, cmp(attr("t"), Op::Matches, v("(t2|m4).*"), 17));
        let e = parse("(attribute:t =~ (t2|m4).*)").unwrap();
        assert_eq!(e, cmp(attr("t"), Op::Matches, v("(t2|m4).*"), 17));
    }

    #[test]
    fn errors_carry_column_and_expectation() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "an expression"),
            ("attribute:a", 12, "an operator"),
            ("attribute:a ==", 15, "a value"),
            ("attribute:a == 1 and", 21, "a subject"),
            ("(attribute:a == 1", 18, "')'"),
            ("attribute:a == 1)", 17, "and, or"),
            ("bogus == 1", 1, "a subject"),
            ("attribute:a in x", 16, "a list"),
            ("attribute:a in [x y]", 19, "',' or ']'"),
            ("attribute:a in [x,]", 19, "a value"),
            ("attribute:a == 'x", 16, "a closing '"),
            ("attribute:a ~= 1", 13, "an operator"),
            ("attribute: == 1", 1, "a subject"),
        ];
        for (src, col, what) in cases {
            match parse(src) {
                Err(CqlError::Syntax { column, expected, .. }) => {
                    assert_eq!(column, *col, "{src}: {expected}");
                    assert!(expected.starts_with(what), "{src}: expected {expected:?} to start with {what:?}");
                }
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_operator_for_subject() {
        for (src, col) in [
            ("agentConnected > true", 16),
            ("runningTasksCount =~ 1", 19),
            ("ec2InstanceId exists", 15),
            ("registeredAt in [2018-01-01]", 14),
        ] {
            match parse(src) {
                Err(CqlError::InvalidOperator { column, .. }) => assert_eq!(column, col, "{src}"),
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn too_long() {
        let long = format!("attribute:a == {}", "x".repeat(2000));
        assert!(matches!(parse(&long), Err(CqlError::TooLong { max: 2000, .. })));
    }

    #[test]
    fn error_messages_are_lower_case_without_period() {
        let e = parse("attribute:a ==").unwrap_err().to_string();
        assert_eq!(e, "parsing cluster query expression at column 15: expected a value, found end of expression");
    }
}
