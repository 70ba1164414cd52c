//! Tests of the Logs Insights engine: tokenizer, parser errors, every command and
//! function group, date arithmetic, result order, and a deterministic junk-input run.

use super::lexer::{Tok, tokenize};
use super::time::{Period, Unit, civil_from_days, days_from_civil, format_timestamp, parse_timestamp};
use super::value::{Value, natural_cmp};
use super::*;
use crate::LogEvent;

/// 2024-01-01 12:00:00.000 UTC.
const T0: i64 = 1_704_110_400_000;

fn event(offset_ms: i64, message: &str) -> LogEvent {
    LogEvent {
        log_group: "group-1".to_string(),
        log_stream: "stream-1".to_string(),
        timestamp: T0 + offset_ms,
        ingestion_time: T0 + 600_000,
        message: message.to_string(),
    }
}

fn run(query: &str, events: &[LogEvent]) -> QueryResults {
    let q = Query::parse(query).unwrap_or_else(|e| panic!("{query:?} should parse: {e}"));
    let mut evaluation = Evaluation::new(&q);
    for e in events {
        evaluation.push(e);
    }
    evaluation.finish()
}

/// Each row as `field=value` strings joined by spaces.
fn lines(query: &str, events: &[LogEvent]) -> Vec<String> {
    run(query, events)
        .rows
        .iter()
        .map(|row| row.iter().map(|(f, v)| format!("{f}={v}")).collect::<Vec<_>>().join(" "))
        .collect()
}

/// The values of one field across rows (`-` where missing).
fn column(results: &QueryResults, field: &str) -> Vec<String> {
    results
        .rows
        .iter()
        .map(|row| row.iter().find(|(f, _)| f == field).map_or("-".to_string(), |(_, v)| v.clone()))
        .collect()
}

/// Five access-log lines one second apart.
fn access_log() -> Vec<LogEvent> {
    vec![
        event(0, "[INFO] user=alice latency=120 status=200"),
        event(1000, "[ERROR] user=bob latency=450 status=500"),
        event(2000, "[INFO] user=alice latency=80 status=200"),
        event(3000, "[WARN] user=carol latency=300 status=404"),
        event(4000, "[ERROR] user=alice latency=900 status=503"),
    ]
}

const ACCESS_PARSE: &str = r#"parse @message "[*] user=* latency=* status=*" as level, user, latency, status"#;

// ---------------------------------------------------------------- tokenizer

#[test]
fn tokenizer_table() {
    let cases: Vec<(&str, Vec<Tok>)> = vec![
        ("fields @timestamp", vec![Tok::Word("fields".into()), Tok::Word("@timestamp".into())]),
        ("a.b.0.c", vec![Tok::Word("a.b.0.c".into())]),
        ("`foo-bar`", vec![Tok::Quoted("foo-bar".into())]),
        (r#""a\"b" 'c\'d'"#, vec![Tok::Str("a\"b".into()), Tok::Str("c'd".into())]),
        (r#""\d\n""#, vec![Tok::Str("\\d\n".into())]),
        ("5m 1.5 10", vec![Tok::Period("5".into(), "m".into()), Tok::Num(1.5), Tok::Num(10.0)]),
        ("a / b", vec![Tok::Word("a".into()), Tok::Slash, Tok::Word("b".into())]),
        ("like /a\\/b/", vec![Tok::Word("like".into()), Tok::Regex("a/b".into())]),
        ("=~ /x\\d/", vec![Tok::Match, Tok::Regex("x\\d".into())]),
        (
            "parse @message /(?<a>x)/",
            vec![Tok::Word("parse".into()), Tok::Word("@message".into()), Tok::Regex("(?<a>x)".into())],
        ),
        ("(a) / 2", vec![Tok::LParen, Tok::Word("a".into()), Tok::RParen, Tok::Slash, Tok::Num(2.0)]),
        ("!= <= >= < > = ^ %", vec![Tok::Ne, Tok::Le, Tok::Ge, Tok::Lt, Tok::Gt, Tok::Eq, Tok::Caret, Tok::Percent]),
        ("a # comment | b\n| c", vec![Tok::Word("a".into()), Tok::Pipe, Tok::Word("c".into())]),
        ("[1, 2]", vec![Tok::LBracket, Tok::Num(1.0), Tok::Comma, Tok::Num(2.0), Tok::RBracket]),
    ];
    for (src, want) in cases {
        let got: Vec<Tok> = tokenize(src).unwrap_or_else(|e| panic!("{src}: {e}")).into_iter().map(|t| t.tok).collect();
        assert_eq!(got, want, "{src}");
    }
}

#[test]
fn tokenizer_marks_line_starts_and_spans() {
    let toks = tokenize("fields a\n  filter b").expect("tokenizes");
    let starts: Vec<bool> = toks.iter().map(|t| t.line_start).collect();
    assert_eq!(starts, vec![true, false, true, false]);
    assert_eq!((toks[2].start, toks[2].end), (11, 17));
}

// ---------------------------------------------------------------- parsing

#[test]
fn documented_queries_parse() {
    let queries = [
        "fields @timestamp, @message | sort @timestamp desc | limit 20",
        "fields `foo-bar`, action, abs(f3-f4)",
        "fields concat(Operation, '-', StatusCode) as opStatus",
        "fields f1, f2, f3 | filter (duration>2000)",
        "fields f1, f2 | filter (f1=10 or f3>25)",
        r"fields f1 | filter statusCode like /2\d\d/",
        r"fields f1 | filter statusCode not like /2\d\d/",
        "fields @timestamp, @message | filter statusCode in [300,400,500]",
        "fields @timestamp, @message | filter Type not in [\"foo\",\"bar\",1]",
        "stats avg (f1) by f2",
        "filter @message like /Exception/ | stats count(*) as exceptionCount by bin(1h) | sort exceptionCount desc",
        "fields f1, f2, f3 | sort f1 desc",
        "sort @timestamp desc | limit 25 | display f1, f2",
        "parse @message \"[*] * The error was: *\" as level, config, exception",
        r"parse @message /\[(?<level>\S+)\]\s+(?<config>\{.*\})\s+The error was: (?<exception>\S+)/",
        "parse @message /user=(?<user2>.*?), method:(?<method2>.*?), latency := (?<latency2>.*?)/ | stats avg(latency2) by method2, user2",
        "parse @message \"user=*, method:*, latency := *\" as @user, @method, @latency | stats avg(@latency) by @method, @user",
        "fields @message | parse @message \"[*] *\" as loggingType, loggingMessage | filter loggingType = \"ERROR\" | display loggingMessage",
        "fields f1, f2, f3 | filter f1 like /(?i)Exception/",
        "fields f1, f2, f3 | filter f1 =~ /^(?i)Exception$/",
        "fields @timestamp, @message\n    # | filter @message like /delay/\n    | limit 20",
        "stats count(*) by queryType, bin(1h)",
        "stats avg(myfield1), min(myfield2), max(myfield3) by bin(5m)",
        "FIELDS strlen(@message) AS message_length\n| STATS sum(message_length)/1024/1024 as logs_mb BY bin(5m)\n| STATS max(logs_mb) AS peak_ingest_mb,\n        min(logs_mb) AS min_ingest_mb,\n        avg(logs_mb) AS avg_ingest_mb",
        "STATS count_distinct(client_ip) AS session_ips,\n      count(*) AS requests BY session_id, client_platform\n| FILTER session_ips > 1\n| STATS count(*) AS multiple_ip_sessions,\n        sum(requests) / count(*) AS avg_session_requests BY client_platform",
        "FIELDS strlen(@message) AS message_length\n| STATS sum(message_length) / 1024 / 1024 AS logs_mb BY BIN(5m) as @t\n| STATS max(logs_mb) AS peak_ingest_mb BY dateceil(@t, 10m)",
        "fields @timestamp, server, severity, message | sort @timestamp desc | dedup server",
        "stats sum(packets) as packetsTransferred by srcAddr, dstAddr | sort packetsTransferred  desc | limit 15",
        "stats count(*) by duration as time | sort time desc",
        "parse @message \"Status Code: *;\" as statusCode | filter statusCode >= 400 and statusCode <= 499",
        "fields @timestamp, @message | filter @message like /(?i)(error|failure)/",
        "stats pct(@duration, 95), stddev(@duration), earliest(@requestId), latest(@requestId)",
        "fields fromMillis(t), toMillis(@timestamp), datefloor(@timestamp, 1h), greatest(a, b, 3), least(1, 2)",
        "fields ltrim(\"xyZfooxyZ\",\"xyZ\"), replace(logGroup,\"smoke_test\",\"Smoke\"), strcontains(a, \"b\", true)",
        "parse @logStream \"*/*/*/*\" as env, service, instance, shard | stats count(*) by env, service",
        "parse @message \"url=*\" as url | parse url \"/api/*/users/*\" as apiVersion, userId | display apiVersion, userId",
        "fields @message\nfilter @message like /x/\nsort @timestamp desc\nlimit 5",
        "stats count() by bin(1mon), bin(2qtrs), bin(1yr), bin(3days), bin(100msec)",
    ];
    for q in queries {
        if let Err(e) = Query::parse(q) {
            panic!("{q:?} should parse: {e}");
        }
    }
}

#[test]
fn malformed_queries_are_rejected() {
    let deep_parens = format!("fields {}1{}", "(".repeat(100), ")".repeat(100));
    let long_chain = format!("fields {}1", "1+".repeat(200));
    let deep_not = format!("filter {}a", "not ".repeat(100));
    let too_long = format!("fields {}", "a".repeat(10_000));
    let cases: Vec<(&str, &str)> = vec![
        ("", "the query is empty"),
        ("  # only a comment\n", "the query is empty"),
        ("fields", "unexpected end of query: expected a value"),
        ("fields a |", "expected a command after '|'"),
        ("| fields a", "expected a command"),
        ("foo a", "unknown command 'foo' at line 1, column 1"),
        ("pattern @message", "the pattern command is not supported"),
        ("fields nosuch(a)", "unknown function 'nosuch'"),
        ("fields strlen()", "function strlen takes 1 argument(s), 0 given"),
        ("fields substr(a)", "takes 2 to 3 argument(s), 1 given"),
        ("fields concat()", "takes at least 1 argument(s)"),
        ("filter a like 5", "expected a quoted string or a /regular expression/"),
        ("filter a like /(/", "invalid regular expression /(/"),
        ("filter a =~ /[z-a]/", "invalid regular expression"),
        (r#"parse @message "* *" as a"#, "the parse pattern has 2 wildcard(s) but 1 field name(s)"),
        ("parse @message /abc/", "no named capturing group"),
        (r#"parse @message "*""#, "expected 'as'"),
        ("parse @message", "expected a quoted glob pattern"),
        ("stats a", "the stats expression 'a' uses no aggregate function"),
        ("stats count(*) by sum(a)", "can only be used in stats"),
        ("fields count(*)", "the aggregate function count can only be used in stats"),
        ("filter max(a) > 1", "can only be used in stats"),
        ("stats sum(count(*))", "cannot be used inside another aggregate"),
        ("stats count(*) | stats count(*) | stats count(*)", "at most two stats"),
        ("sort a | stats count(*)", "the sort command must come after the last stats command"),
        ("stats count(*) by a | limit 5 | stats count(*)", "the limit command must come after"),
        ("dedup a | sort a", "only limit can follow dedup, found sort"),
        ("dedup a | filter b", "only limit can follow dedup, found filter"),
        ("limit 0", "invalid limit '0'"),
        ("limit 10001", "invalid limit '10001'"),
        ("limit 2.5", "invalid limit '2.5'"),
        ("limit -1", "invalid limit '-1'"),
        ("limit x", "expected the number of rows to return"),
        ("stats count(*) by bin(5x)", "invalid time period '5x'"),
        ("stats count(*) by bin(0m)", "invalid time period '0m'"),
        ("stats count(*) by bin(1.5h)", "invalid time period '1.5h'"),
        ("stats count(*) by bin(a)", "expected a time period"),
        ("fields datefloor(@timestamp)", "expected ',' and a time period"),
        ("fields 'abc", "unterminated string starting at line 1, column 8"),
        ("filter a like /abc", "unterminated regular expression"),
        ("fields `abc", "unterminated quoted field name"),
        ("fields ``", "expected a value"),
        ("fields a ~ b", "unexpected character '~' at line 1, column 10"),
        ("fields a b", "unexpected symbol 'b' at line 1, column 10: expected '|' or the end of the query"),
        ("filter (a = 1", "expected ')'"),
        ("fields a = 1 = 2", "unexpected symbol '='"),
        ("stats pct(a, 150)", "expected a percentile from 0 to 100, found '150'"),
        ("stats pct(a)", "expected ',' and a percentile"),
        ("stats avg(a, b)", "function avg takes 1 argument(s), 2 given"),
        ("stats sum()", "function sum takes 1 argument(s), 0 given"),
        ("fields 5m", "time periods go in bin"),
        ("fields /x/", "expected a value"),
        ("filter a in 1", "expected '[' and a list of values"),
        ("filter a in [1, 2", "expected ',' or ']'"),
        ("fields a as", "expected a field name"),
        ("dedup", "expected a field name"),
        (&deep_parens, "nests expressions more than"),
        (&long_chain, "nests expressions more than"),
        (&deep_not, "nests expressions more than"),
        (&too_long, "characters long, more than the limit of 10000"),
    ];
    for (query, want) in cases {
        match Query::parse(query) {
            Ok(q) => panic!("{query:?} should fail, parsed to {q:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{query:?}: got {e:?} ({e}), want {want:?}"),
        }
    }
}

#[test]
fn errors_carry_positions() {
    assert_eq!(
        Query::parse("fields a\n  | bogus x").err(),
        Some(QueryError::UnknownCommand { name: "bogus".into(), line: 2, column: 5 })
    );
    assert_eq!(Query::parse("filter a >").err(), Some(QueryError::UnexpectedEnd { expected: "a value".into() }));
    assert_eq!(
        Query::parse("fields a,\n )").err(),
        Some(QueryError::UnexpectedToken { found: ")".into(), expected: "a value".into(), line: 2, column: 2 })
    );
}

#[test]
fn limit_is_the_smallest_limit_or_ten_thousand() {
    for (query, want) in
        [("fields a", 10_000), ("fields a | limit 25", 25), ("sort a | limit 50 | limit 7", 7), ("limit 10000", 10_000)]
    {
        assert_eq!(Query::parse(query).map(|q| q.limit()), Ok(want), "{query}");
    }
}

// ---------------------------------------------------------------- functions

/// Evaluates `expr` as a field of one JSON event at 12:07:30.
fn value_of(expr: &str) -> Option<String> {
    let message = r#"{"a": 5, "b": -2.5, "s": "  Hello World  ", "n": "x", "t": 1704110400000,
        "nested": {"k": "v", "deeper": {"z": true}}, "arr": [1, {"id": "z"}], "@odd": 1, "nul": null,
        "foo-bar": "dash"}"#;
    let results = run(&format!("fields {expr} as v"), &[event(450_000, message)]);
    results.rows.first().and_then(|row| row.iter().find(|(f, _)| f == "v").map(|(_, v)| v.clone()))
}

#[test]
fn function_table() {
    let cases: Vec<(&str, Option<&str>)> = vec![
        // string
        ("strlen(\"héllo\")", Some("5")),
        ("strlen(s)", Some("15")),
        ("toupper(\"abc\")", Some("ABC")),
        ("tolower(\"ÀBC\")", Some("àbc")),
        ("concat(\"a\", \"-\", a)", Some("a-5")),
        ("concat(zz, yy)", None),
        ("concat(zz, \"x\")", Some("x")),
        ("substr(\"xyZfooxyZ\", 3, 3)", Some("foo")),
        ("substr(\"xyZfooxyZ\", 3)", Some("fooxyZ")),
        ("substr(\"abc\", 10)", Some("")),
        ("substr(\"abc\", -2, 2)", Some("ab")),
        ("replace(\"foo\", \"o\", \"0\")", Some("f00")),
        ("replace(\"foo\", \"\", \"0\")", Some("foo")),
        ("trim(s)", Some("Hello World")),
        ("ltrim(s)", Some("Hello World  ")),
        ("rtrim(s)", Some("  Hello World")),
        ("trim(\"xyZxyfooxyxyZ\", \"xyZ\")", Some("foo")),
        ("ltrim(\"xyZxyfooxyZ\", \"xyZ\")", Some("fooxyZ")),
        ("rtrim(\"xyZfooxyxyZ\", \"xyZ\")", Some("xyZfoo")),
        ("strcontains(s, \"World\")", Some("1")),
        ("strcontains(s, \"world\")", Some("0")),
        ("strcontains(s, \"world\", true)", Some("1")),
        ("strcontains(zz, \"a\")", Some("0")),
        ("isempty(zz)", Some("1")),
        ("isempty(n)", Some("0")),
        ("isblank(\"   \")", Some("1")),
        ("isblank(s)", Some("0")),
        ("startsWith(n, \"x\")", Some("1")),
        ("endsWith(\"abc\", \"bc\")", Some("1")),
        ("ENDSWITH(\"abc\", \"b\")", Some("0")),
        // numeric and arithmetic
        ("abs(b)", Some("2.5")),
        ("ceil(b)", Some("-2")),
        ("floor(b)", Some("-3")),
        ("greatest(a, b, 7)", Some("7")),
        ("least(a, b, 7)", Some("-2.5")),
        ("greatest(zz, n)", None),
        ("log(1)", Some("0")),
        ("log(0)", None),
        ("sqrt(16)", Some("4")),
        ("sqrt(-1)", None),
        ("round(2.567, 2)", Some("2.57")),
        ("round(2.5)", Some("3")),
        ("toNumber(\"42\")", Some("42")),
        ("a + 1", Some("6")),
        ("a - b", Some("7.5")),
        ("a * b", Some("-12.5")),
        ("a / 2", Some("2.5")),
        ("10 % 3", Some("1")),
        ("2 ^ 3", Some("8")),
        ("2 ^ 3 ^ 2", Some("512")),
        ("1 + 2 * 3", Some("7")),
        ("(1 + 2) * 3", Some("9")),
        ("-a", Some("-5")),
        ("- -a", Some("5")),
        ("a / 0", None),
        ("n + 1", None),
        ("zz * 2", None),
        ("0.1 + 0.2", Some("0.30000000000000004")),
        ("1000000 * 1000000", Some("1000000000000")),
        // datetime
        ("bin(5m)", Some("2024-01-01 12:05:00.000")),
        ("bin(1h)", Some("2024-01-01 12:00:00.000")),
        ("datefloor(@timestamp, 1d)", Some("2024-01-01 00:00:00.000")),
        ("dateceil(@timestamp, 1h)", Some("2024-01-01 13:00:00.000")),
        ("dateceil(@timestamp, 1mo)", Some("2024-02-01 00:00:00.000")),
        ("toMillis(@timestamp)", Some("1704110850000")),
        ("fromMillis(t)", Some("2024-01-01 12:00:00.000")),
        ("fromMillis(0)", Some("1970-01-01 00:00:00.000")),
        ("fromMillis(n)", None),
        ("toMillis(\"2022-01-14T13:18:31.000-08:00\")", Some("1642195111000")),
        ("toMillis(fromMillis(t) )", Some("1704110400000")),
        ("datefloor(fromMillis(t), 1w)", Some("2024-01-01 00:00:00.000")),
        // general
        ("ispresent(a)", Some("1")),
        ("ispresent(zz)", Some("0")),
        ("ispresent(nul)", Some("0")),
        ("coalesce(zz, yy, a)", Some("5")),
        ("coalesce(zz, yy)", None),
        ("if(a > 1, \"big\", \"small\")", Some("big")),
        ("if(a > 9, \"big\", \"small\")", Some("small")),
        // comparisons and booleans
        ("a > 3", Some("1")),
        ("a > 30", Some("0")),
        ("a = \"5\"", Some("1")),
        ("a = 5.0", Some("1")),
        ("n = \"x\"", Some("1")),
        ("n != \"x\"", Some("0")),
        ("zz != 1", Some("0")),
        ("not zz = 1", Some("1")),
        ("n < \"y\"", Some("1")),
        ("a in [1, 5]", Some("1")),
        ("a in []", Some("0")),
        ("a not in [1, 5]", Some("0")),
        ("n in [\"x\", 2]", Some("1")),
        ("s like \"Hello\"", Some("1")),
        ("s like \"hello\"", Some("0")),
        ("s like /h.llo/", Some("0")),
        ("s =~ /(?i)h.llo/", Some("1")),
        ("s not like /World/", Some("0")),
        ("not ispresent(zz)", Some("1")),
        ("a > 3 and b < 0", Some("1")),
        ("a < 3 or b > 0", Some("0")),
        ("a < 3 or b < 0 and a = 5", Some("1")),
        ("true", Some("1")),
        // discovered and built-in fields
        ("nested.k", Some("v")),
        ("nested.deeper.z", Some("true")),
        ("arr.0", Some("1")),
        ("arr.1.id", Some("z")),
        ("@@odd", Some("1")),
        ("`foo-bar`", Some("dash")),
        ("nul", None),
        ("@logStream", Some("stream-1")),
        ("@log", Some("group-1")),
        ("@ingestionTime", Some("2024-01-01 12:10:00.000")),
        ("@timestamp", Some("2024-01-01 12:07:30.000")),
    ];
    let mut failures = Vec::new();
    for (expr, want) in cases {
        let got = value_of(expr);
        if got.as_deref() != want {
            failures.push(format!("{expr}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn oversized_string_results_are_dropped() {
    let big = "a".repeat(100_000);
    let q = format!("fields replace(@message, \"a\", \"{}\") as r, strlen(@message) as n", "b".repeat(100));
    let results = run(&q, &[event(0, &big)]);
    assert_eq!(lines_of(&results), vec!["n=100000".to_string()]);
}

fn lines_of(results: &QueryResults) -> Vec<String> {
    results.rows.iter().map(|row| row.iter().map(|(f, v)| format!("{f}={v}")).collect::<Vec<_>>().join(" ")).collect()
}

// ---------------------------------------------------------------- date arithmetic

#[test]
fn periods_floor_and_ceil() {
    let at = parse_timestamp("2024-05-15 13:47:22.123").expect("valid timestamp");
    assert_eq!(at, 1_715_780_842_123);
    let cases: Vec<(u32, Unit, &str, &str)> = vec![
        (1, Unit::Millisecond, "2024-05-15 13:47:22.123", "2024-05-15 13:47:22.123"),
        (100, Unit::Millisecond, "2024-05-15 13:47:22.100", "2024-05-15 13:47:22.200"),
        (1, Unit::Second, "2024-05-15 13:47:22.000", "2024-05-15 13:47:23.000"),
        (5, Unit::Minute, "2024-05-15 13:45:00.000", "2024-05-15 13:50:00.000"),
        (1, Unit::Hour, "2024-05-15 13:00:00.000", "2024-05-15 14:00:00.000"),
        (6, Unit::Hour, "2024-05-15 12:00:00.000", "2024-05-15 18:00:00.000"),
        (1, Unit::Day, "2024-05-15 00:00:00.000", "2024-05-16 00:00:00.000"),
        (1, Unit::Week, "2024-05-13 00:00:00.000", "2024-05-20 00:00:00.000"),
        (1, Unit::Month, "2024-05-01 00:00:00.000", "2024-06-01 00:00:00.000"),
        (2, Unit::Month, "2024-05-01 00:00:00.000", "2024-07-01 00:00:00.000"),
        (6, Unit::Month, "2024-01-01 00:00:00.000", "2024-07-01 00:00:00.000"),
        (1, Unit::Quarter, "2024-04-01 00:00:00.000", "2024-07-01 00:00:00.000"),
        (1, Unit::Year, "2024-01-01 00:00:00.000", "2025-01-01 00:00:00.000"),
        (10, Unit::Year, "2020-01-01 00:00:00.000", "2030-01-01 00:00:00.000"),
        // capped as AWS caps them: 300s acts as 60s, 90m as 60m, 48h as 24h
        (300, Unit::Second, "2024-05-15 13:47:00.000", "2024-05-15 13:48:00.000"),
        (90, Unit::Minute, "2024-05-15 13:00:00.000", "2024-05-15 14:00:00.000"),
        (48, Unit::Hour, "2024-05-15 00:00:00.000", "2024-05-16 00:00:00.000"),
        (5000, Unit::Millisecond, "2024-05-15 13:47:22.000", "2024-05-15 13:47:23.000"),
    ];
    for (amount, unit, floor, ceil) in cases {
        let p = Period::new(amount, unit);
        assert_eq!(p.floor(at).map(format_timestamp).as_deref(), Some(floor), "floor {amount} {unit:?}");
        assert_eq!(p.ceil(at).map(format_timestamp).as_deref(), Some(ceil), "ceil {amount} {unit:?}");
    }
    // A boundary is its own ceiling; before the epoch floors go down.
    let month = Period::new(1, Unit::Month);
    let may = parse_timestamp("2024-05-01T00:00:00Z").expect("valid");
    assert_eq!(month.ceil(may), Some(may));
    assert_eq!(Period::new(1, Unit::Day).floor(-1).map(format_timestamp).as_deref(), Some("1969-12-31 00:00:00.000"));
    assert_eq!(month.floor(-1).map(format_timestamp).as_deref(), Some("1969-12-01 00:00:00.000"));
    // Extremes give no value rather than overflowing.
    for unit in [Unit::Millisecond, Unit::Week, Unit::Month, Unit::Year] {
        let p = Period::new(u32::MAX, unit);
        let _ = (p.floor(i64::MIN), p.floor(i64::MAX), p.ceil(i64::MAX), p.ceil(i64::MIN));
    }
    assert_eq!(Period::new(1, Unit::Week).floor(i64::MIN), None);
    assert_eq!(Period::new(1, Unit::Day).ceil(i64::MAX), None);
}

#[test]
fn period_units() {
    let cases = [
        ("ms", Some(Unit::Millisecond)),
        ("msec", Some(Unit::Millisecond)),
        ("msecs", Some(Unit::Millisecond)),
        ("milliseconds", Some(Unit::Millisecond)),
        ("s", Some(Unit::Second)),
        ("secs", Some(Unit::Second)),
        ("m", Some(Unit::Minute)),
        ("mins", Some(Unit::Minute)),
        ("minute", Some(Unit::Minute)),
        ("h", Some(Unit::Hour)),
        ("hrs", Some(Unit::Hour)),
        ("HOURS", Some(Unit::Hour)),
        ("d", Some(Unit::Day)),
        ("days", Some(Unit::Day)),
        ("w", Some(Unit::Week)),
        ("weeks", Some(Unit::Week)),
        ("mo", Some(Unit::Month)),
        ("mon", Some(Unit::Month)),
        ("months", Some(Unit::Month)),
        ("q", Some(Unit::Quarter)),
        ("qtrs", Some(Unit::Quarter)),
        ("y", Some(Unit::Year)),
        ("yr", Some(Unit::Year)),
        ("years", Some(Unit::Year)),
        ("hs", None),
        ("x", None),
        ("", None),
    ];
    for (suffix, want) in cases {
        assert_eq!(Unit::from_suffix(suffix), want, "{suffix}");
    }
}

#[test]
fn civil_dates_round_trip() {
    for days in (-1_000_000..1_000_000).step_by(997) {
        let (y, m, d) = civil_from_days(days);
        assert!((1..=12).contains(&m) && (1..=31).contains(&d));
        assert_eq!(days_from_civil(y, m, d), Some(days));
    }
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    let _ = (civil_from_days(i64::MIN), civil_from_days(i64::MAX), days_from_civil(i64::MAX, 1, 1));
}

#[test]
fn timestamps_format_and_parse() {
    let cases = [
        (0, "1970-01-01 00:00:00.000"),
        (T0, "2024-01-01 12:00:00.000"),
        (1_709_208_000_123, "2024-02-29 12:00:00.123"),
        (-1, "1969-12-31 23:59:59.999"),
        (951_782_400_000, "2000-02-29 00:00:00.000"),
    ];
    for (ms, text) in cases {
        assert_eq!(format_timestamp(ms), text);
        assert_eq!(parse_timestamp(text), Some(ms), "{text}");
    }
    assert_eq!(parse_timestamp("2024-01-01T12:00:00Z"), Some(T0));
    assert_eq!(parse_timestamp("2024-01-01T13:30:00+01:30"), Some(T0));
    assert_eq!(parse_timestamp("2024-01-01 12:00:00.5"), Some(T0 + 500));
    for bad in [
        "",
        "2024-13-01 00:00:00",
        "2024-01-01",
        "2024-01-01 12:00:00.",
        "2024-01-01X12:00:00",
        "2024-01-01 12:00:00 junk",
    ] {
        assert_eq!(parse_timestamp(bad), None, "{bad}");
    }
    let _ = (format_timestamp(i64::MIN), format_timestamp(i64::MAX));
}

// ---------------------------------------------------------------- commands

#[test]
fn default_rows_show_timestamp_and_message_newest_first() {
    let got = lines("filter @message like /ERROR/", &access_log());
    assert_eq!(
        got,
        vec![
            "@timestamp=2024-01-01 12:00:04.000 @message=[ERROR] user=alice latency=900 status=503",
            "@timestamp=2024-01-01 12:00:01.000 @message=[ERROR] user=bob latency=450 status=500",
        ]
    );
}

#[test]
fn fields_aliases_and_columns() {
    let events = [event(0, "hello")];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("fields @message", vec!["@message=hello"]),
        ("fields strlen(@message) as len, @logStream", vec!["len=5 @logStream=stream-1"]),
        ("fields strlen(@message)", vec!["strlen(@message)=5"]),
        ("fields @message | fields toupper(@message) as up", vec!["@message=hello up=HELLO"]),
        ("fields @message as m | fields m", vec!["m=hello"]),
        ("fields missing, @message", vec!["@message=hello"]),
        ("fields @message | display @logStream", vec!["@logStream=stream-1"]),
        ("display @message | display concat(@message, \"!\") as x", vec!["x=hello!"]),
        ("fields a | display @log", vec!["@log=group-1"]),
        ("fields @message as x, concat(x, \"?\") as y", vec!["x=hello y=hello?"]),
    ];
    for (query, want) in cases {
        assert_eq!(lines(query, &events), want, "{query}");
    }
}

#[test]
fn filter_table() {
    let events = access_log();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("status = 200", vec!["alice:80", "alice:120"]),
        ("status != 200", vec!["alice:900", "carol:300", "bob:450"]),
        ("latency > 300", vec!["alice:900", "bob:450"]),
        ("latency >= 300", vec!["alice:900", "carol:300", "bob:450"]),
        ("latency < 100 or latency > 800", vec!["alice:900", "alice:80"]),
        ("user = \"alice\" and not (latency > 100)", vec!["alice:80"]),
        ("status in [404, 500]", vec!["carol:300", "bob:450"]),
        ("status not in [200, \"404\"]", vec!["alice:900", "bob:450"]),
        ("user like \"li\"", vec!["alice:900", "alice:80", "alice:120"]),
        ("user not like /^a/", vec!["carol:300", "bob:450"]),
        ("@message =~ /(?i)error/", vec!["alice:900", "bob:450"]),
        ("level = \"WARN\" or level = \"INFO\" and latency > 100", vec!["carol:300", "alice:120"]),
        ("strlen(user) = 3", vec!["bob:450"]),
        ("ispresent(nosuch)", vec![]),
        ("nosuch != 1", vec![]),
        ("latency", vec!["alice:900", "carol:300", "alice:80", "bob:450", "alice:120"]),
        ("(latency % 100) = 0", vec!["carol:300", "alice:900"]),
    ];
    for (filter, want) in cases {
        let query = format!("{ACCESS_PARSE} | filter {filter} | fields concat(user, \":\", latency) as k");
        let results = run(&query, &events);
        let mut got = column(&results, "k");
        let mut want: Vec<String> = want.into_iter().map(String::from).collect();
        // Rows come newest first; compare as sets where the table lists them otherwise.
        got.sort();
        want.sort();
        assert_eq!(got, want, "{filter}");
    }
}

#[test]
fn parse_glob_and_regex() {
    let events = [
        event(0, "25 May 2019 10:24:39,474 [ERROR] {foo=2, bar=data} The error was: DataIntegrityException"),
        event(1, "no brackets here"),
    ];
    let glob =
        r#"parse @message "[*] * The error was: *" as level, config, exception | display level, config, exception"#;
    assert_eq!(
        lines(glob, &events),
        // Newest first: the line without brackets keeps no extracted field.
        vec!["", "level=ERROR config={foo=2, bar=data} exception=DataIntegrityException"]
    );
    let regex = r"parse @message /\[(?<level>\S+)\]\s+(?<config>\{.*\})\s+The error was: (?<exception>\S+)/ | display level, config, exception";
    assert_eq!(lines(regex, &events), lines(glob, &events));
    // Chained parse on an extracted field, and parse of another field.
    let url = [event(0, "GET url=/api/v2/users/42 200")];
    assert_eq!(
        lines(r#"parse @message "url=* " as url | parse url "/api/*/users/*" as v, id | display v, id"#, &url),
        vec!["v=v2 id=42"]
    );
    assert_eq!(lines(r#"parse @logStream "stream-*" as n | display n"#, &url), vec!["n=1"]);
    // Regex parse defaulting to @message, with (?i).
    assert_eq!(lines(r"parse /(?i)get url=(?<path>\S+)/ | display path", &url), vec!["path=/api/v2/users/42"]);
}

#[test]
fn stats_aggregates() {
    let query = format!(
        "{ACCESS_PARSE} | stats count(*), count(status), count_distinct(user), sum(latency), avg(latency), \
         min(latency), max(latency), pct(latency, 50), pct(latency, 100), pct(latency, 0), stddev(latency), \
         earliest(user), latest(level), sortsFirst(user), sortsLast(user), min(user), max(level), count(nosuch)"
    );
    let results = run(&query, &access_log());
    assert_eq!(results.rows.len(), 1);
    let row = &results.rows[0];
    let get = |f: &str| row.iter().find(|(k, _)| k == f).map(|(_, v)| v.as_str());
    assert_eq!(get("count(*)"), Some("5"));
    assert_eq!(get("count(status)"), Some("5"));
    assert_eq!(get("count_distinct(user)"), Some("3"));
    assert_eq!(get("sum(latency)"), Some("1850"));
    assert_eq!(get("avg(latency)"), Some("370"));
    assert_eq!(get("min(latency)"), Some("80"));
    assert_eq!(get("max(latency)"), Some("900"));
    assert_eq!(get("pct(latency, 50)"), Some("300"));
    assert_eq!(get("pct(latency, 100)"), Some("900"));
    assert_eq!(get("pct(latency, 0)"), Some("80"));
    assert_eq!(get("stddev(latency)"), Some("331.2099032335839"));
    assert_eq!(get("earliest(user)"), Some("alice"));
    assert_eq!(get("latest(level)"), Some("ERROR"));
    assert_eq!(get("sortsFirst(user)"), Some("alice"));
    assert_eq!(get("sortsLast(user)"), Some("carol"));
    assert_eq!(get("min(user)"), Some("alice"));
    assert_eq!(get("max(level)"), Some("WARN"));
    assert_eq!(get("count(nosuch)"), Some("0"));
    let names: Vec<&str> = row.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names.first(), Some(&"count(*)"));
    assert_eq!(names.last(), Some(&"count(nosuch)"));
}

#[test]
fn stats_grouping_and_order() {
    let events = access_log();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("{ACCESS_PARSE} | stats count(*) as n, max(latency) as worst by user"),
            vec!["user=alice n=3 worst=900", "user=bob n=1 worst=450", "user=carol n=1 worst=300"],
        ),
        (
            format!("{ACCESS_PARSE} | stats count(*) as n by user | sort n desc, user desc"),
            vec!["user=alice n=3", "user=carol n=1", "user=bob n=1"],
        ),
        (
            format!("{ACCESS_PARSE} | stats count(*) by level, user as who | limit 3"),
            vec![
                "level=INFO who=alice count(*)=2",
                "level=ERROR who=bob count(*)=1",
                "level=WARN who=carol count(*)=1",
            ],
        ),
        (
            "stats count(*) as n by bin(2s)".to_string(),
            vec![
                "bin(2s)=2024-01-01 12:00:04.000 n=1",
                "bin(2s)=2024-01-01 12:00:02.000 n=2",
                "bin(2s)=2024-01-01 12:00:00.000 n=2",
            ],
        ),
        (
            format!("{ACCESS_PARSE} | stats sum(latency) / count(*) as mean, count(*) * 2 as twice"),
            vec!["mean=370 twice=10"],
        ),
        (
            format!(
                "{ACCESS_PARSE} | stats count(*) as n by user | stats max(n) as top, count(*) as users, sum(n) as total"
            ),
            vec!["top=3 users=3 total=5"],
        ),
        (
            format!("{ACCESS_PARSE} | stats count(*) as n by user | filter n > 1 | fields n * 10 as big"),
            vec!["user=alice n=3 big=30"],
        ),
        (
            format!(
                "{ACCESS_PARSE} | stats max(latency) as m, max(@timestamp) as @t by user | stats sum(m) as s by dateceil(@t, 1h)"
            ),
            vec!["dateceil(@t, 1h)=2024-01-01 13:00:00.000 s=1650"],
        ),
        (format!("{ACCESS_PARSE} | stats count(*) by nosuch"), vec!["count(*)=5"]),
        (format!("{ACCESS_PARSE} | stats avg(user) as a, sum(user) as s, count(*) as n"), vec!["n=5"]),
        ("stats count(*) as n | display n, n + 1 as m".to_string(), vec!["n=5 m=6"]),
    ];
    for (query, want) in cases {
        assert_eq!(lines(&query, &events), want, "{query}");
    }
}

#[test]
fn stats_over_nothing() {
    assert_eq!(lines("stats count(*) as n, sum(x) as s", &[]), vec!["n=0"]);
    assert!(lines("stats count(*) by x", &[]).is_empty());
    assert_eq!(lines("filter 1 = 2 | stats count(*)", &access_log()), vec!["count(*)=0"]);
}

#[test]
fn sort_uses_the_documented_natural_order() {
    // The ascending example of AWS's sort documentation.
    let documented = [
        "!:",
        "#",
        "*%04",
        "0#",
        "5A",
        "111A",
        "2345_",
        "@",
        "@_",
        "A",
        "A9876fghj",
        "a12345hfh",
        "0",
        "01",
        "1",
        "2",
        "3",
    ];
    let mut shuffled: Vec<Value> = documented.iter().rev().map(|s| Value::Str(s.to_string())).collect();
    shuffled.rotate_left(5);
    shuffled.sort_by(natural_cmp);
    let sorted: Vec<String> = shuffled.iter().filter_map(Value::display).collect();
    assert_eq!(sorted, documented);

    // Through a query: ascending, descending (the reverse), missing values last.
    let events: Vec<LogEvent> = ["b", "10", "a2", "9", "a10", "-"]
        .iter()
        .enumerate()
        .map(|(i, v)| event(i as i64, &format!("v={v}")))
        .collect();
    let q = |dir: &str| {
        format!("parse @message \"v=*\" as v | fields replace(v, \"-\", \"\") as w | sort w {dir} | display w")
    };
    let asc = run(&q("asc"), &events);
    assert_eq!(column(&asc, "w"), vec!["", "a2", "a10", "b", "9", "10"]);
    let desc = run(&q("desc"), &events);
    assert_eq!(column(&desc, "w"), vec!["10", "9", "b", "a10", "a2", ""]);
    let missing = run(
        "parse @message \"v=*\" as v | sort v desc | display v",
        &[event(0, "v=1"), event(1, "none"), event(2, "v=2")],
    );
    assert_eq!(column(&missing, "v"), vec!["2", "1", "-"]);
}

#[test]
fn sort_keys_ties_and_multiple_sorts() {
    let events = access_log();
    // Ties keep newest-first order.
    assert_eq!(
        column(&run(&format!("{ACCESS_PARSE} | sort level | display user, latency"), &events), "latency"),
        vec!["900", "450", "80", "120", "300"]
    );
    // Two keys.
    assert_eq!(
        column(&run(&format!("{ACCESS_PARSE} | sort level desc, latency asc | display latency"), &events), "latency"),
        vec!["300", "80", "120", "450", "900"]
    );
    // A later sort wins, the earlier one breaks its ties.
    assert_eq!(
        column(&run(&format!("{ACCESS_PARSE} | sort latency desc | sort level | display latency"), &events), "latency"),
        vec!["900", "450", "120", "80", "300"]
    );
    // Sort keys are taken where the sort stands, even if a field is replaced later.
    assert_eq!(
        column(
            &run(&format!("{ACCESS_PARSE} | sort latency desc | fields 0 as latency | display user"), &events),
            "user"
        ),
        vec!["alice", "bob", "carol", "alice", "alice"]
    );
    // Sort on an expression.
    assert_eq!(
        column(&run(&format!("{ACCESS_PARSE} | sort strlen(user) desc, latency | display user"), &events), "user"),
        vec!["alice", "alice", "carol", "alice", "bob"]
    );
}

#[test]
fn limit_keeps_the_first_rows_in_order_whatever_the_push_order() {
    let events: Vec<LogEvent> = (0..1000).map(|i| event(i * 1000, &format!("n={i}"))).collect();
    let mut reversed = events.clone();
    reversed.reverse();
    let mut interleaved: Vec<LogEvent> =
        events.iter().step_by(2).chain(events.iter().skip(1).step_by(2)).cloned().collect();
    interleaved.rotate_left(333);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("fields @message | limit 3", vec!["n=999", "n=998", "n=997"]),
        ("sort @timestamp asc | limit 3 | display @message", vec!["n=0", "n=1", "n=2"]),
        ("parse @message \"n=*\" as n | filter n % 100 = 0 | sort n desc | limit 2 | display n", vec!["900", "800"]),
        ("parse @message \"n=*\" as n | sort n | limit 10 | filter n > 7 | display n", vec!["8", "9"]),
        ("parse @message \"n=*\" as n | limit 500 | sort n | limit 2 | display n", vec!["500", "501"]),
    ];
    for (query, want) in cases {
        for (name, order) in [("forward", &events), ("reversed", &reversed), ("interleaved", &interleaved)] {
            let results = run(query, order);
            let got: Vec<String> = results.rows.iter().filter_map(|r| r.first().map(|(_, v)| v.clone())).collect();
            assert_eq!(got, want, "{query} ({name})");
            assert_eq!(results.records_scanned, 1000);
        }
    }
    // Without a limit, 10000 rows at most.
    let many: Vec<LogEvent> = (0..10_050).map(|i| event(i, "x")).collect();
    assert_eq!(run("fields @message", &many).rows.len(), 10_000);
}

#[test]
fn dedup_keeps_the_first_row_per_combination() {
    let events = access_log();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("{ACCESS_PARSE} | sort @timestamp desc | dedup user | display user, latency"),
            vec!["user=alice latency=900", "user=carol latency=300", "user=bob latency=450"],
        ),
        (
            format!("{ACCESS_PARSE} | dedup user | display user, latency"),
            vec!["user=alice latency=900", "user=carol latency=300", "user=bob latency=450"],
        ),
        (
            format!("{ACCESS_PARSE} | sort latency | dedup user | display user, latency"),
            vec!["user=alice latency=80", "user=carol latency=300", "user=bob latency=450"],
        ),
        (
            format!("{ACCESS_PARSE} | dedup level, status | limit 2 | display level, status"),
            vec!["level=ERROR status=503", "level=WARN status=404"],
        ),
        (
            format!("{ACCESS_PARSE} | stats count(*) as n by level, user | dedup level"),
            vec!["level=INFO user=alice n=2", "level=ERROR user=bob n=1", "level=WARN user=carol n=1"],
        ),
    ];
    for (query, want) in cases {
        assert_eq!(lines(&query, &events), want, "{query}");
    }
    // Rows missing a dedup field are all kept.
    let sparse = [event(0, "u=a"), event(1, "none"), event(2, "u=a"), event(3, "none")];
    assert_eq!(
        lines("parse @message \"u=*\" as u | dedup u | display @message", &sparse),
        vec!["@message=none", "@message=u=a", "@message=none"]
    );
}

#[test]
fn json_fields_are_discovered() {
    let events = [
        event(0, r#"{"level": "error", "http": {"status": 500, "path": "/a"}, "tags": ["x", "y"], "@id": 7}"#),
        event(1, r#"{"level": "info", "http": {"status": 200, "path": "/b"}}"#),
        event(2, r#"  {"level": "error", "http": {"status": 503}}  "#),
        event(3, r#"level=error not json"#),
        event(4, r#"{"broken": "#),
        event(5, r#"["not", "an", "object"]"#),
    ];
    assert_eq!(
        lines("filter level = \"error\" | fields http.status, http.path, tags.1, @@id", &events),
        vec!["http.status=503", "http.status=500 http.path=/a tags.1=y @@id=7"]
    );
    assert_eq!(lines("stats avg(http.status) as s", &events), vec!["s=401"]);
    // At most 200 fields.
    let wide: String = format!("{{{}}}", (0..300).map(|i| format!("\"k{i:03}\": {i}")).collect::<Vec<_>>().join(", "));
    assert_eq!(lines("fields k199, k200", &[event(0, &wide)]), vec!["k199=199"]);
}

#[test]
fn commands_on_new_lines_comments_and_case() {
    let events = access_log();
    let query = "FIELDS @message\n# a comment | limit 1\nFILTER @message LIKE /ERROR/  # trailing\nSORT @timestamp ASC\nLIMIT 1";
    assert_eq!(lines(query, &events), vec!["@message=[ERROR] user=bob latency=450 status=500"]);
    let upper = format!("{ACCESS_PARSE} | STATS COUNT(*) AS n BY user | SORT n DESC | LIMIT 1");
    assert_eq!(lines(&upper, &events), vec!["user=alice n=3"]);
}

#[test]
fn case_insensitive_regexes_fold_case() {
    let cases = [
        ("(?i)exception", "java.lang.EXCEPTION", true),
        ("^(?i)Exception$", "exception", true),
        ("(?i)[a-z]+x", "ABCX", true),
        ("(?i:abc)def", "ABCdef", true),
        ("(?i:abc)def", "ABCDEF", false),
        ("(?i)a(?-i)b", "Ab", true),
        ("(?i)a(?-i)b", "AB", false),
        ("(?is)a.b", "A\nB", true),
        ("(?i)(?<lvl>err)or", "ERROR", true),
        (r"(?i)\berr\b", "an ERR here", true),
        ("(?i)[^a]", "A", false),
        ("(?i)é", "É", true),
    ];
    for (pattern, text, want) in cases {
        let re = regex_compat::compile(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        assert_eq!(re.is_match(text), want, "{pattern} on {text}");
    }
    let named = regex_compat::compile("(?i)(?<lvl>err)or").expect("compiles");
    assert_eq!(named.captures("xERROR").and_then(|c| c.name("lvl")).map(|m| m.as_str()), Some("ERR"));
    assert!(regex_compat::compile("(?i)(").is_err());
}

#[test]
fn counters() {
    let events = access_log();
    let bytes: u64 = events.iter().map(|e| e.message.len() as u64).sum();
    for (query, matched) in [
        ("fields @message", 5),
        ("filter @message like /ERROR/ | limit 1", 2),
        ("filter @message like /ERROR/ | stats count(*)", 2),
        (&*format!("{ACCESS_PARSE} | sort latency | filter latency > 100 | limit 1"), 4),
    ] {
        let r = run(query, &events);
        assert_eq!((r.records_scanned, r.records_matched, r.bytes_scanned), (5, matched, bytes), "{query}");
    }
}

#[test]
fn evaluation_is_reusable_per_query() {
    let q = Query::parse("stats count(*) as n").expect("parses");
    let q2 = q.clone();
    let mut a = Evaluation::new(&q);
    a.push(&event(0, "x"));
    let b = Evaluation::new(&q2);
    assert_eq!(lines_of(&a.finish()), vec!["n=1"]);
    assert_eq!(lines_of(&b.finish()), vec!["n=0"]);
}

#[test]
fn engine_types_can_cross_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Query>();
    sync::<Query>();
    send::<Evaluation>();
    send::<QueryResults>();
    send::<QueryError>();
    sync::<QueryError>();
}

// ---------------------------------------------------------------- junk input

/// xorshift64*, so the junk is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn junk_never_panics() {
    let fragments = [
        "fields",
        "filter",
        "stats",
        "sort",
        "parse",
        "limit",
        "dedup",
        "display",
        "pattern",
        "|",
        "|",
        "(",
        ")",
        "[",
        "]",
        ",",
        "\"",
        "'",
        "`",
        "/",
        "*",
        "count(*)",
        "bin(5m)",
        "bin(",
        "5m",
        "1mo",
        "@message",
        "@timestamp",
        " ",
        " ",
        "\n",
        "#",
        "like",
        "in",
        "not",
        "and",
        "or",
        "=",
        "=~",
        "!=",
        "<=",
        "as",
        "by",
        "desc",
        "asc",
        "10",
        "0",
        "-1",
        "1.5",
        "x",
        "a.b",
        "\\",
        "é",
        "\u{0}",
        "{",
        "}",
        "^",
        "%",
        "-",
        "+",
        "?",
        "<",
        ">",
        "!",
        "(?i)",
        "(?<n>",
        ".*",
        "concat(",
        "strlen(",
        "pct(",
        "sum(",
        "datefloor(",
        "dateceil(",
        "substr(",
        "replace(",
        "trim(",
        "if(",
        "coalesce(",
        "fromMillis(",
        "toMillis(",
        "greatest(",
        "10000",
        "10001",
        "/x/",
        "\"a*b\"",
        "as a, b",
        "(?<v>\\d+)",
        "~",
        "$",
        "1e309",
        "99999999999999999999",
        "datefloor(@timestamp, 1w)",
        "sum(x)/count(*)",
    ];
    let events = [
        event(0, r#"{"x": 1, "a": {"b": "q"}, "n": "5"}"#),
        event(-5_000_000_000_000, "plain text x=1 [INFO] 123"),
        event(i64::MAX / 2, ""),
        LogEvent { timestamp: i64::MIN, ingestion_time: i64::MAX, ..event(0, "{\"x\": -1e300}") },
        LogEvent { timestamp: i64::MAX, ..event(0, "é\u{0}\n") },
    ];
    let seeds = [
        "fields @timestamp, @message | sort @timestamp desc | limit 20",
        "filter @message like /(?i)error/ | stats count(*) as n by bin(5m)",
        r#"parse @message "[*] user=* latency=*" as level, user, latency | stats avg(latency), pct(latency, 90) by user"#,
        "fields strlen(@message) as len, concat(x, \"-\", a.b) as k | filter len > 3 and x in [1, 2] | sort len | dedup k",
        "stats sum(x) / count(*) as m, max(@timestamp) as @t by n | stats max(m) by dateceil(@t, 1h)",
        "fields substr(@message, 1, 3) as s, datefloor(@timestamp, 1mo) as d | display s, d, toMillis(d)",
        r"parse @message /(?<word>\w+) (?<num>\d+)/ | filter num > 100 or not ispresent(word) | limit 5",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for round in 0..600 {
        let mut query = String::new();
        if round % 3 == 1 {
            // A valid query with a few random edits.
            query = rng.pick(&seeds).to_string();
            for _ in 0..(rng.next() % 3 + 1) {
                let at = query
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth((rng.next() % (query.chars().count() as u64 + 1)) as usize);
                let at = at.unwrap_or(query.len());
                match rng.next() % 3 {
                    0 => {
                        if let Some(c) = query.get(at..).and_then(|rest| rest.chars().next()) {
                            query.replace_range(at..at + c.len_utf8(), "");
                        }
                    }
                    1 => query.insert_str(at, rng.pick(&fragments)),
                    _ => query.insert(at, char::from_u32((rng.next() % 0x60 + 0x20) as u32).unwrap_or('?')),
                }
            }
        } else if round % 3 == 0 {
            // Printable junk, character by character.
            for _ in 0..(rng.next() % 60) {
                let c = char::from_u32((rng.next() % 0x60 + 0x20) as u32).unwrap_or('?');
                query.push(c);
            }
        } else {
            if round % 2 == 0 {
                query.push_str(rng.pick(&["fields ", "stats ", "filter ", "parse @message ", "sort "]));
            }
            for _ in 0..(rng.next() % 14) {
                query.push_str(rng.pick(&fragments));
                if rng.next().is_multiple_of(3) {
                    query.push(' ');
                }
            }
        }
        if let Ok(q) = Query::parse(&query) {
            parsed += 1;
            assert!((1..=10_000).contains(&q.limit()));
            let mut evaluation = Evaluation::new(&q);
            for e in &events {
                evaluation.push(e);
            }
            let results = evaluation.finish();
            assert_eq!(results.records_scanned, events.len() as u64);
        }
    }
    // The generator should produce some valid queries too, so evaluation is exercised.
    assert!(parsed >= 30, "only {parsed} junk queries parsed");
}

#[test]
fn structured_random_queries_evaluate() {
    let mut rng = Rng(42);
    let exprs = [
        "x",
        "a.b",
        "n",
        "@timestamp",
        "strlen(@message)",
        "x + n * 2",
        "concat(a.b, x)",
        "bin(1h)",
        "toMillis(@timestamp)",
        "x > 0",
        "not ispresent(x)",
        "coalesce(zz, n)",
        "abs(x - 5) / 0",
        "n ^ 400",
    ];
    let aggs = [
        "count(*)",
        "sum(x)",
        "avg(n)",
        "min(a.b)",
        "max(@timestamp)",
        "pct(x, 90)",
        "stddev(n)",
        "latest(x)",
        "count_distinct(n)",
    ];
    let events: Vec<LogEvent> = (0..50)
        .map(|i| {
            event(i * 7_919_000, &format!(r#"{{"x": {}, "a": {{"b": "v{}"}}, "n": "{}"}}"#, i % 7, i % 3, i * 11 % 13))
        })
        .collect();
    for _ in 0..200 {
        let query = match rng.next() % 4 {
            0 => format!("fields {} as f | filter {} | sort f desc | limit 5", rng.pick(&exprs), rng.pick(&exprs)),
            1 => format!("stats {} as s by {} | sort s", rng.pick(&aggs), rng.pick(&exprs)),
            2 => format!("filter {} | dedup {} | limit 7", rng.pick(&exprs), rng.pick(&["x", "n", "a.b"])),
            _ => format!(
                "stats {} as s, {} as t by {} | stats max(s) as m",
                rng.pick(&aggs),
                rng.pick(&aggs),
                rng.pick(&exprs)
            ),
        };
        let results = run(&query, &events);
        assert!(results.rows.len() <= 50, "{query}");
    }
}
