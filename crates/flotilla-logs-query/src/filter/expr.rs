//! The boolean structure shared by JSON and space-delimited patterns: conditions
//! combined with `&&` and `||` and grouped with parentheses, where `&&` binds
//! tighter than `||`. Generic over the condition, which each pattern kind parses.

use super::FilterError;
use super::lexer::Token;

/// How deeply parentheses may nest; deeper patterns are rejected rather than risk the stack.
const MAX_NESTING: usize = 32;

/// A boolean expression over conditions of type `A`.
#[derive(Debug, Clone)]
pub(super) enum Expr<A> {
    Atom(A),
    All(Vec<Expr<A>>),
    Any(Vec<Expr<A>>),
}

impl<A> Expr<A> {
    /// Evaluates the expression, deciding each condition with `test`.
    pub(super) fn eval(&self, test: &dyn Fn(&A) -> bool) -> bool {
        match self {
            Expr::Atom(atom) => test(atom),
            Expr::All(items) => items.iter().all(|item| item.eval(test)),
            Expr::Any(items) => items.iter().any(|item| item.eval(test)),
        }
    }

    /// Every condition in the expression, left to right.
    pub(super) fn atoms(&self) -> Vec<&A> {
        let mut atoms = Vec::new();
        self.collect_atoms(&mut atoms);
        atoms
    }

    fn collect_atoms<'a>(&'a self, out: &mut Vec<&'a A>) {
        match self {
            Expr::Atom(atom) => out.push(atom),
            Expr::All(items) | Expr::Any(items) => items.iter().for_each(|item| item.collect_atoms(out)),
        }
    }
}

/// Tokens being consumed by a parser.
pub(super) struct TokenStream<'t> {
    tokens: &'t [Token],
    pos: usize,
}

impl<'t> TokenStream<'t> {
    pub(super) fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    pub(super) fn next(&mut self) -> Option<&'t Token> {
        let token = self.peek()?;
        self.pos += 1;
        Some(token)
    }

    fn eat(&mut self, expected: &Token) -> bool {
        let found = self.peek() == Some(expected);
        if found {
            self.pos += 1;
        }
        found
    }
}

/// Parses a condition from the stream.
pub(super) type AtomParser<'p, A> = dyn FnMut(&mut TokenStream<'_>) -> Result<A, FilterError> + 'p;

/// Parses all of `tokens` as one expression whose conditions `atom` parses.
pub(super) fn parse<A>(tokens: &[Token], atom: &mut AtomParser<'_, A>) -> Result<Expr<A>, FilterError> {
    let mut stream = TokenStream { tokens, pos: 0 };
    let expr = parse_or(&mut stream, atom, 0)?;
    match stream.peek() {
        None => Ok(expr),
        Some(Token::RParen) => Err(FilterError::Unbalanced(')')),
        Some(token) => Err(FilterError::Syntax(format!("unexpected {token}"))),
    }
}

fn parse_or<A>(
    stream: &mut TokenStream<'_>,
    atom: &mut AtomParser<'_, A>,
    depth: usize,
) -> Result<Expr<A>, FilterError> {
    let mut items = vec![parse_and(stream, atom, depth)?];
    while stream.eat(&Token::Or) {
        items.push(parse_and(stream, atom, depth)?);
    }
    Ok(flatten(items, Expr::Any))
}

fn parse_and<A>(
    stream: &mut TokenStream<'_>,
    atom: &mut AtomParser<'_, A>,
    depth: usize,
) -> Result<Expr<A>, FilterError> {
    let mut items = vec![parse_operand(stream, atom, depth)?];
    while stream.eat(&Token::And) {
        items.push(parse_operand(stream, atom, depth)?);
    }
    Ok(flatten(items, Expr::All))
}

fn parse_operand<A>(
    stream: &mut TokenStream<'_>,
    atom: &mut AtomParser<'_, A>,
    depth: usize,
) -> Result<Expr<A>, FilterError> {
    if !stream.eat(&Token::LParen) {
        return atom(stream).map(Expr::Atom);
    }
    if depth >= MAX_NESTING {
        return Err(FilterError::Syntax(format!("parentheses nest deeper than {MAX_NESTING} levels")));
    }
    let inner = parse_or(stream, atom, depth + 1)?;
    if stream.eat(&Token::RParen) { Ok(inner) } else { Err(FilterError::Unbalanced('(')) }
}

/// One item stands for itself; several are joined by `join`.
fn flatten<A>(mut items: Vec<Expr<A>>, join: fn(Vec<Expr<A>>) -> Expr<A>) -> Expr<A> {
    if items.len() == 1
        && let Some(only) = items.pop()
    {
        return only;
    }
    join(items)
}
