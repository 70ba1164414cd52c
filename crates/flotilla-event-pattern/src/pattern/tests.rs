//! Table-driven tests of event patterns: (pattern, event, expected) rows across the
//! whole grammar (AWS's documented examples among them), the refusals with their
//! messages and positions, and the limits.

use serde_json::Value;

use super::{EventPattern, PatternError, PatternLimits};

/// Checks every `(pattern, event, expected)` row, reporting all failures at once.
fn check(rows: &[(&str, &str, bool)]) {
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|(pattern, event, expected)| {
            let compiled = match EventPattern::parse(pattern) {
                Ok(compiled) => compiled,
                Err(error) => return Some(format!("{pattern} should parse: {error}")),
            };
            let event: Value = serde_json::from_str(event).unwrap_or_else(|e| panic!("bad test event {event}: {e}"));
            (compiled.matches(&event) != *expected).then(|| format!("{pattern} on {event}: expected {expected}"))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

fn refusal(pattern: &str) -> PatternError {
    EventPattern::parse(pattern).expect_err(pattern)
}

/// The EC2 event of AWS's "Event patterns" page.
const EC2: &str = r#"{
  "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
  "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}
}"#;

/// The Auto Scaling event of AWS's "Matching null values and empty strings" page.
const AUTOSCALING: &str = r#"{
  "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
  "detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling",
  "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
  "resources": [], "detail": {"eventVersion": "", "responseElements": null}
}"#;

#[test]
fn aws_documented_examples() {
    check(&[
        (
            r#"{"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], "detail": {"state": ["terminated"]}}"#,
            EC2,
            true,
        ),
        (r#"{"source": ["aws.ec2"], "detail": {"state": ["running"]}}"#, EC2, false),
        (r#"{"source": ["aws.ec2", "aws.fargate"]}"#, EC2, true),
        (
            r#"{"source": ["aws.autoscaling"], "detail-type": ["EC2 Instance Launch Successful"], "detail": {"responseElements": [null]}}"#,
            AUTOSCALING,
            true,
        ),
        (r#"{"detail": {"eventVersion": [""]}}"#, AUTOSCALING, true),
        (r#"{"detail": {"eventVersion": [null]}}"#, AUTOSCALING, false),
        (r#"{"detail": {"responseElements": [""]}}"#, AUTOSCALING, false),
        (r#"{"time": [{"prefix": "2017-12-22"}]}"#, EC2, true),
        (r#"{"time": [{"prefix": "2017-10-02"}]}"#, EC2, false),
        (r#"{"detail": {"state": [{"anything-but": "initializing"}]}}"#, EC2, true),
        (r#"{"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}"#, EC2, false),
        (r#"{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}"#, EC2, true),
        (r#"{"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}"#, EC2, false),
        (r#"{"detail": {"state": [{"exists": true}]}}"#, EC2, true),
        (r#"{"detail": {"c-count": [{"exists": false}]}}"#, EC2, true),
        (r#"{"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}"#, EC2, true),
        (
            r#"{"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}"#,
            EC2,
            true,
        ),
        (r#"{"account": [111122223333]}"#, EC2, false),
    ]);
}

const MACIE: &str = r#"{"source": "aws.macie", "detail-type": "Macie Finding",
  "detail": {"severity": {"score": 1, "description": "Low"}, "count": 2, "ratio": 0.5, "big": 123456789012345678}}"#;

#[test]
fn exact_values_of_every_type() {
    check(&[
        (r#"{"source": ["aws.macie"], "detail": {"severity": {"score": [1]}, "count": [2]}}"#, MACIE, true),
        (r#"{"detail": {"count": [2.0]}}"#, MACIE, true),
        (r#"{"detail": {"count": [2e0]}}"#, MACIE, true),
        (r#"{"detail": {"count": ["2"]}}"#, MACIE, false),
        (r#"{"detail": {"ratio": [0.5]}}"#, MACIE, true),
        (r#"{"detail": {"big": [123456789012345678]}}"#, MACIE, true),
        (r#"{"detail": {"big": [123456789012345679]}}"#, MACIE, false),
        (r#"{"detail": {"severity": {"description": ["low"]}}}"#, MACIE, false),
        (r#"{"flag": [true]}"#, r#"{"flag": true}"#, true),
        (r#"{"flag": [true]}"#, r#"{"flag": "true"}"#, false),
        (r#"{"flag": ["true"]}"#, r#"{"flag": true}"#, false),
        (r#"{"flag": [false, null]}"#, r#"{"flag": null}"#, true),
        (r#"{"name": ["é😀"]}"#, r#"{"name": "é😀"}"#, true),
        (r#"{"ip": ["10.0.0.1"]}"#, r#"{"ip": "10.0.0.1"}"#, true),
        (r#"{"ip": ["::1"]}"#, r#"{"ip": "0:0:0:0:0:0:0:1"}"#, true),
        (r#"{"ip": ["10.0.0.1"]}"#, r#"{"ip": "10.0.0.2"}"#, false),
        (r#"{"missing": ["x"]}"#, r#"{"other": "x"}"#, false),
        (r#"{"detail": {"severity": ["Low"]}}"#, MACIE, false),
        (r#"{"exactly": [{"exactly": "prefix"}]}"#, r#"{"exactly": "prefix"}"#, true),
    ]);
}

#[test]
fn prefix_suffix_and_case() {
    check(&[
        (r#"{"source": [{"prefix": "aws."}]}"#, EC2, true),
        (r#"{"source": [{"prefix": ""}]}"#, EC2, true),
        (r#"{"source": [{"prefix": "AWS."}]}"#, EC2, false),
        (r#"{"source": [{"prefix": {"equals-ignore-case": "AWS.EC"}}]}"#, EC2, true),
        (r#"{"FileName": [{"suffix": ".png"}]}"#, r#"{"FileName": "cat.png"}"#, true),
        (r#"{"FileName": [{"suffix": ".png"}]}"#, r#"{"FileName": "cat.PNG"}"#, false),
        (r#"{"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}"#, r#"{"FileName": "cat.PNG"}"#, true),
        (r#"{"FileName": [{"suffix": ".png"}]}"#, r#"{"FileName": 5}"#, false),
        (r#"{"n": [{"prefix": "1"}]}"#, r#"{"n": 12}"#, false),
        (r#"{"city": [{"equals-ignore-case": "ÉVRY"}]}"#, r#"{"city": "évry"}"#, true),
        (r#"{"city": [{"equals-ignore-case": "paris"}]}"#, r#"{"city": "Lyon"}"#, false),
    ]);
}

#[test]
fn anything_but_forms() {
    check(&[
        (r#"{"x-limit": [{"anything-but": 123}]}"#, r#"{"x-limit": 124}"#, true),
        (r#"{"x-limit": [{"anything-but": 123}]}"#, r#"{"x-limit": 123.0}"#, false),
        (r#"{"x-limit": [{"anything-but": [100, 200, 300]}]}"#, r#"{"x-limit": 200}"#, false),
        (r#"{"x-limit": [{"anything-but": [100, 200, 300]}]}"#, r#"{"x-limit": "200"}"#, true),
        (r#"{"state": [{"anything-but": "stopped"}]}"#, r#"{"state": 5}"#, true),
        (r#"{"state": [{"anything-but": "stopped"}]}"#, r#"{"state": null}"#, true),
        (r#"{"state": [{"anything-but": "stopped"}]}"#, r#"{"other": 1}"#, false),
        (r#"{"state": [{"anything-but": "stopped"}]}"#, r#"{"state": ["stopped", "running"]}"#, true),
        (r#"{"state": [{"anything-but": "stopped"}]}"#, r#"{"state": ["stopped"]}"#, false),
        (r#"{"state": [{"anything-but": {"prefix": ["init", "stop"]}}]}"#, r#"{"state": "stopping"}"#, false),
        (r#"{"id": [{"anything-but": {"suffix": "1234"}}]}"#, r#"{"id": "i-1234"}"#, false),
        (r#"{"id": [{"anything-but": {"suffix": ["1234", "6789"]}}]}"#, r#"{"id": "i-5555"}"#, true),
        (r#"{"state": [{"anything-but": {"equals-ignore-case": "Stopped"}}]}"#, r#"{"state": "STOPPED"}"#, false),
        (
            r#"{"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}"#,
            r#"{"state": "running"}"#,
            true,
        ),
        (r#"{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#, r#"{"FilePath": "/usr/lib/x.so"}"#, false),
        (
            r#"{"FilePath": [{"anything-but": {"wildcard": ["*/lib/*", "*.jar"]}}]}"#,
            r#"{"FilePath": "/usr/bin/x"}"#,
            true,
        ),
    ]);
}

#[test]
fn numeric_ranges() {
    const COUNTS: &str = r#"{"detail": {"c-count": 5, "d-count": 9.99, "x-limit": 301.8, "s": "5"}}"#;
    check(&[
        (
            r#"{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], "x-limit": [{"numeric": ["=", 3.018e2]}]}}"#,
            COUNTS,
            true,
        ),
        (r#"{"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}}"#, COUNTS, false),
        (r#"{"detail": {"c-count": [{"numeric": [">=", 5]}]}}"#, COUNTS, true),
        (r#"{"detail": {"c-count": [{"numeric": [">", 5]}]}}"#, COUNTS, false),
        (r#"{"detail": {"d-count": [{"numeric": ["<=", 9.99]}]}}"#, COUNTS, true),
        (r#"{"detail": {"d-count": [{"numeric": [">=", -1e9, "<", 9.98]}]}}"#, COUNTS, false),
        (r#"{"detail": {"s": [{"numeric": [">", 0]}]}}"#, COUNTS, false),
        (r#"{"detail": {"c-count": [{"numeric": ["=", 5]}, {"numeric": ["=", 7]}]}}"#, COUNTS, true),
        (r#"{"n": [{"numeric": [">", 1e300]}]}"#, r#"{"n": 1e301}"#, true),
        (r#"{"n": [{"numeric": ["<", 0]}]}"#, r#"{"n": [3, -1]}"#, true),
    ]);
}

#[test]
fn exists_and_absence() {
    check(&[
        (r#"{"detail": {"state": [{"exists": true}]}}"#, r#"{"detail": {"state": null}}"#, true),
        (r#"{"detail": {"state": [{"exists": false}]}}"#, r#"{"detail": {"state": null}}"#, false),
        (r#"{"detail": {"state": [{"exists": false}]}}"#, r#"{"other": 1}"#, true),
        (r#"{"detail": {"c-count": [{"exists": true}]}}"#, r#"{"detail": {"c-count": {"c1": 100}}}"#, false),
        (r#"{"detail": {"c-count": [{"exists": false}]}}"#, r#"{"detail": {"c-count": {"c1": 100}}}"#, true),
        (r#"{"resources": [{"exists": false}]}"#, AUTOSCALING, true),
        (r#"{"resources": [{"exists": true}]}"#, AUTOSCALING, false),
        (r#"{"detail": {"state": ["x", {"exists": false}]}}"#, r#"{"detail": {}}"#, true),
        (r#"{"a": {"b": {"c": [{"exists": false}]}}}"#, r#"{"a": "scalar"}"#, true),
        (r#"{"a": {"b": ["x"]}}"#, r#"{"a": "scalar"}"#, false),
    ]);
}

#[test]
fn wildcard_values() {
    check(&[
        (
            r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
            r#"{"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}"#,
            true,
        ),
        (
            r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
            r#"{"EventBusArn": "arn:aws:events:eu-west-1:123456789012:event-bus/default"}"#,
            false,
        ),
        (r#"{"source": [{"wildcard": "Simple*Service"}]}"#, r#"{"source": "SimpleQueueService"}"#, true),
        (r#"{"key": [{"wildcard": "a\\*b"}]}"#, r#"{"key": "a*b"}"#, true),
        (r#"{"key": [{"wildcard": "a\\*b"}]}"#, r#"{"key": "axb"}"#, false),
        (r#"{"key": [{"wildcard": "*"}]}"#, r#"{"key": 1}"#, false),
    ]);
}

#[test]
fn cidr_ranges() {
    check(&[
        (
            r#"{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}"#,
            r#"{"detail": {"sourceIPAddress": "10.0.0.255"}}"#,
            true,
        ),
        (
            r#"{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}"#,
            r#"{"detail": {"sourceIPAddress": "10.0.1.0"}}"#,
            false,
        ),
        (r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#, r#"{"ip": "2001:db8:1::5"}"#, true),
        (r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#, r#"{"ip": "10.0.0.1"}"#, false),
        (r#"{"ip": [{"cidr": "10.0.0.0/8"}]}"#, r#"{"ip": "not-an-ip"}"#, false),
    ]);
}

#[test]
fn or_at_any_level() {
    const DETAIL: &str = r#"{"source": "aws.cloudwatch", "detail": {"c-count": 7, "d-count": 12, "x-limit": 301.8}}"#;
    check(&[
        (
            r#"{"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, {"d-count": [{"numeric": ["<", 10]}]}, {"x-limit": [{"numeric": ["=", 3.018e2]}]}]}}"#,
            DETAIL,
            true,
        ),
        (
            r#"{"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, {"d-count": [{"numeric": ["<", 10]}]}]}}"#,
            DETAIL,
            false,
        ),
        (
            r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"detail": {"d-count": [12]}}]}"#,
            DETAIL,
            true,
        ),
        (
            r#"{"source": ["aws.ec2"], "$or": [{"metricName": ["CPUUtilization"]}, {"detail": {"d-count": [12]}}]}"#,
            DETAIL,
            false,
        ),
        (r#"{"$or": [{"a": ["1"]}, {"$or": [{"b": ["2"]}, {"c": ["3"]}]}]}"#, r#"{"c": "3"}"#, true),
        (
            r#"{"$or": [{"a": ["1"]}, {"b": ["2"]}], "$or": [{"c": ["3"]}, {"d": ["4"]}]}"#,
            r#"{"a": "1", "d": "4"}"#,
            true,
        ),
        (r#"{"$or": [{"a": ["1"]}, {"b": ["2"]}], "$or": [{"c": ["3"]}, {"d": ["4"]}]}"#, r#"{"a": "1"}"#, false),
    ]);
}

#[test]
fn event_arrays_and_nesting() {
    const EMPLOYEES: &str = r#"{"employees": [[{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}], [{"firstName": "Peter", "lastName": "Jones"}]]}"#;
    check(&[
        (r#"{"employees": {"firstName": ["Anna"]}}"#, EMPLOYEES, true),
        (r#"{"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}"#, EMPLOYEES, true),
        (r#"{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}"#, EMPLOYEES, false),
        (r#"{"tags": ["b"]}"#, r#"{"tags": ["a", ["b"]]}"#, true),
        (r#"{"tags": ["c"]}"#, r#"{"tags": ["a", ["b"]]}"#, false),
        (r#"{"a": {"b": {"c": {"d": [1]}}}}"#, r#"{"a": {"b": {"c": {"d": 1}}}}"#, true),
        (r#"{"a": {"b": ["x"]}}"#, r#"{"a": {"b": {"x": 1}}}"#, false),
        (
            r#"{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}"#,
            r#"{"detail": {"location": "eu-west"}}"#,
            true,
        ),
        (r#"{"detail": {"a": ["1"]}, "detail": {"b": ["2"]}}"#, r#"{"detail": {"a": "1", "b": "3"}}"#, false),
    ]);
}

#[test]
fn non_object_events_match_nothing() {
    let pattern = EventPattern::parse(r#"{"a": [{"exists": false}]}"#).unwrap();
    assert!(!pattern.matches(&Value::Null));
    assert!(!pattern.matches(&serde_json::json!([{"b": 1}])));
    assert!(pattern.matches(&serde_json::json!({"b": 1})));
}

/// A refused pattern, part of the reason, and the (line, column) when checked.
type RefusalRow = (&'static str, &'static str, Option<(usize, usize)>);

#[test]
fn refusals_say_why_and_where() {
    let rows: &[RefusalRow] = &[
        ("[]", "Filter is not an object", Some((1, 2))),
        (r#"{"source": "aws.ec2"}"#, "\"source\" must be an object or an array", Some((1, 21))),
        (r#"{"source": ["aws.health"], "detail": {}}"#, "Empty objects are not allowed", Some((1, 40))),
        (
            "{\n  \"detail\": {\n    \"pipeline\": {\n      \"slug\": \"some-pipeline\" } } }",
            "\"slug\" must be an object or an array",
            Some((4, 30)),
        ),
        (r#"{"a": []}"#, "Empty arrays are not allowed", Some((1, 9))),
        (r#"{"a": [["x"]]}"#, "Match value must be String, number, true, false, or null", Some((1, 9))),
        (r#"{"a": [{}]}"#, "Match expression name not found", Some((1, 10))),
        (r#"{"a": [{"contains": "x"}]}"#, "Unrecognized match type contains", None),
        (r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#, "Only one key allowed in match expression", None),
        (r#"{"a": [{"prefix": 5}]}"#, "prefix match pattern must be a string", None),
        (r#"{"a": [{"prefix": {"foo": "x"}}]}"#, "Unsupported prefix pattern: foo", None),
        (r#"{"a": [{"suffix": {}}]}"#, "Suffix expression name not found", None),
        (
            r#"{"a": [{"suffix": {"equals-ignore-case": 1}}]}"#,
            "equals-ignore-case match pattern must be a string",
            None,
        ),
        (r#"{"a": [{"exists": "yes"}]}"#, "exists match pattern must be either true or false.", None),
        (r#"{"a": [{"numeric": 5}]}"#, "Value of numeric must be an array.", None),
        (r#"{"a": [{"numeric": []}]}"#, "Invalid member in numeric match: ]", None),
        (r#"{"a": [{"numeric": [5]}]}"#, "Invalid member in numeric match: 5", None),
        (r#"{"a": [{"numeric": ["!=", 5]}]}"#, "Unrecognized numeric range operator: !=", None),
        (r#"{"a": [{"numeric": ["=", "5"]}]}"#, "Value of equals must be numeric", None),
        (r#"{"a": [{"numeric": ["<", 5, ">", 1]}]}"#, "Too many elements in numeric expression", None),
        (r#"{"a": [{"numeric": [">", 5, ">", 9]}]}"#, "Bad numeric range operator: >", None),
        (r#"{"a": [{"numeric": [">", 5, 9]}]}"#, "Bad value in numeric range: 9", None),
        (r#"{"a": [{"numeric": [">", 5, "<", 9, "x"]}]}"#, "Too many terms in numeric range expression", None),
        (r#"{"a": [{"numeric": [">", 5, "<=", 5]}]}"#, "Bottom must be less than top", None),
        (r#"{"a": [{"numeric": [">", 1e999]}]}"#, "Cannot compare number : 1e999", None),
        (r#"{"a": [{"numeric": [">", 0], "prefix": "x"}]}"#, "Too many elements in numeric expression", None),
        (
            r#"{"a": [{"anything-but": null}]}"#,
            "Value of anything-but must be an array or single string/number value.",
            None,
        ),
        (r#"{"a": [{"anything-but": ["x", 1]}]}"#, "mixed type is not supported", None),
        (r#"{"a": [{"anything-but": []}]}"#, "mixed type is not supported", None),
        (
            r#"{"a": [{"anything-but": [true]}]}"#,
            "Inside anything but list, start|null|boolean is not supported.",
            None,
        ),
        (r#"{"a": [{"anything-but": {}}]}"#, "Anything-But expression name not found", None),
        (r#"{"a": [{"anything-but": {"exists": true}}]}"#, "Unsupported anything-but pattern: exists", None),
        (r#"{"a": [{"anything-but": {"prefix": ""}}]}"#, "Null prefix/suffix not allowed", None),
        (r#"{"a": [{"anything-but": {"suffix": [5]}}]}"#, "prefix/suffix match pattern must be a string", None),
        (
            r#"{"a": [{"anything-but": {"equals-ignore-case": 5}}]}"#,
            "Inside anything-but/equals-ignore-case list",
            None,
        ),
        (r#"{"a": [{"anything-but": {"wildcard": "a**"}}]}"#, "Consecutive wildcard characters at pos 2", None),
        (r#"{"a": [{"wildcard": "a\\b"}]}"#, "Invalid escape character at pos 2", None),
        (r#"{"a": [{"wildcard": true}]}"#, "wildcard match pattern must be a string", None),
        (r#"{"a": [{"cidr": "10.0.0.0/33"}]}"#, "IPv4 mask bits must be < 32", None),
        (r#"{"a": [{"cidr": "10.0.0.0"}]}"#, "Malformed CIDR, one '/' required", None),
        (r#"{"a": [{"equals-ignore-case": ["x"]}]}"#, "equals-ignore-case match pattern must be a string", None),
        (r#"{"$or": {"a": ["1"]}}"#, "It must be an Array followed with $or.", None),
        (r#"{"$or": [{"a": ["1"]}]}"#, "There must have at least 2 Objects in $or relationship.", None),
        (r#"{"$or": [{"a": ["1"]}, "b"]}"#, "Only JSON object is allowed in array of $or relationship.", None),
        (
            r#"{"$or": [{"numeric": [1]}, {"b": ["2"]}]}"#,
            "numeric is Ruler reserved fieldName which cannot be used inside $or.",
            None,
        ),
        (r#"{"$or": [{}, {"b": ["2"]}]}"#, "Empty objects are not allowed", None),
        (r#"{"source": ["aws.ec2"]"#, "Unexpected end-of-input: expected close marker for OBJECT", Some((1, 23))),
        (
            r#"{source: ["aws.ec2"]}"#,
            "Unexpected character ('s' (code 115)): was expecting double-quote to start field name",
            Some((1, 3)),
        ),
        (r#"{"a": [1 2]}"#, "was expecting comma to separate Array entries", Some((1, 11))),
        (r#"{"a": [tru]}"#, "Unrecognized token 'tru'", None),
        ("", "Unexpected end-of-input", Some((1, 1))),
    ];
    let mut failures = Vec::new();
    for (pattern, reason, position) in rows {
        let error = refusal(pattern);
        let message = error.to_string();
        if !message.starts_with("Event pattern is not valid. Reason: ") || !error.reason.contains(reason) {
            failures.push(format!("{pattern}: expected {reason:?}, got {message:?}"));
        }
        if let Some((line, column)) = position {
            let at = error.location.as_ref().map(|l| (l.line, l.column));
            if at != Some((*line, *column)) {
                failures.push(format!("{pattern}: expected line {line}, column {column}, got {at:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_message_quotes_the_source_as_jackson_does() {
    let error = refusal(r#"{"source": ["aws.health"], "detail": {}}"#);
    assert_eq!(
        error.to_string(),
        "Event pattern is not valid. Reason: Empty objects are not allowed\n at [Source: (String)\"{\"source\": [\"aws.health\"], \"detail\": {}}\"; line: 1, column: 40]"
    );
    let long = format!(r#"{{"a": ["{}"], "b": 1}}"#, "x".repeat(600));
    let message = refusal(&long).to_string();
    assert!(message.contains("\"[truncated 119 chars]; line: 1"), "{message}");
}

#[test]
fn limits() {
    let big = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(2040));
    assert!(refusal(&big).reason.contains("the limit is 2048"));
    let raised = PatternLimits { max_chars: PatternLimits::MAX_CHARS_CEILING, ..PatternLimits::default() };
    assert!(EventPattern::parse_with_limits(&big, &raised).is_ok());

    // Three $or groups of ten branches each: 1000 combinations pass, a fourth group does not.
    let group = |field: &str| {
        let branches: Vec<String> = (0..10).map(|i| format!(r#"{{"{field}": ["{i}"]}}"#)).collect();
        format!(r#""$or": [{}]"#, branches.join(","))
    };
    let thousand = format!("{{{}, {}, {}}}", group("a"), group("b"), group("c"));
    let limits = PatternLimits { max_chars: 4096, ..PatternLimits::default() };
    assert_eq!(EventPattern::parse_with_limits(&thousand, &limits).unwrap().combinations(), 1000);
    let more = format!("{{{}, {}, {}, {}}}", group("a"), group("b"), group("c"), group("d"));
    let error = EventPattern::parse_with_limits(&more, &limits).unwrap_err();
    assert!(error.reason.contains("10000 rule combinations"), "{error}");

    let deep = format!("{}[1]{}", "{\"a\": ".repeat(120), "}".repeat(120));
    assert!(refusal(&deep).reason.contains("nesting depth"), "{}", refusal(&deep));
}
