//! Table-driven tests of target inputs: AWS's input transformer examples, JSON and
//! text templates, missing variables, reserved variables, and the refusals.

use serde_json::{Value, json};

use super::{InputTransformer, RuleContext, TargetInput, TargetInputError, TransformError};

/// The EC2 event of AWS's "Amazon EventBridge input transformation" page.
fn ec2_event() -> Value {
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2015-11-11T21:29:54Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
        "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "count": 3, "tags": {"b": 2, "a": "x"}}
    })
}

const CONTEXT: RuleContext<'static> = RuleContext {
    rule_arn: "arn:aws:events:us-east-2:123456789012:rule/example",
    rule_name: "example",
    ingestion_time: "2015-11-11T21:29:55Z",
};

/// The AWS page's `InputPathsMap`, plus a few variables of other types.
const PATHS: &[(&str, &str)] = &[
    ("timestamp", "$.time"),
    ("instance", "$.detail.instance-id"),
    ("state", "$.detail.state"),
    ("resource", "$.resources[0]"),
    ("count", "$.detail.count"),
    ("tags", "$.detail.tags"),
    ("missing", "$.detail.nothing"),
];

fn render(template: &str) -> String {
    InputTransformer::new(PATHS.iter().copied(), template)
        .unwrap_or_else(|e| panic!("{template:?}: {e}"))
        .render(&ec2_event(), &CONTEXT)
}

#[test]
fn aws_documented_templates() {
    let rows = [
        (r#""instance <instance> is in <state>""#, r#""instance i-0123456789 is in RUNNING""#),
        (r#""instance \"<instance>\" is in <state>""#, r#""instance \"i-0123456789\" is in RUNNING""#),
        (
            "{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}",
            "{\n  \"instance\" : \"i-0123456789\",\n  \"state\": \"RUNNING\"\n}",
        ),
        (
            r#"{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \"<instance>\" is in <state>"}"#,
            r#"{"instance" : "i-0123456789", "state": "RUNNING", "instanceStatus": "instance \"i-0123456789\" is in RUNNING"}"#,
        ),
        (
            r#"{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}"#,
            r#"{"instance" : "i-0123456789", "state": [ 9, "RUNNING", true ], "Transformed" : "Yes"}"#,
        ),
        (
            r#"{"ruleArn" : <aws.events.rule-arn>, "ruleName" : <aws.events.rule-name>}"#,
            r#"{"ruleArn" : "arn:aws:events:us-east-2:123456789012:rule/example", "ruleName" : "example"}"#,
        ),
        (r#""<aws.events.rule-name> triggered""#, r#""example triggered""#),
        ("<instance> is in state <state>", "i-0123456789 is in state RUNNING"),
        ("<instance> is in state \"<state>\"", "i-0123456789 is in state \"RUNNING\""),
        (
            r#"{"myInstance": <instance>,"myStatus": "<instance> is in state \"<state>\""}"#,
            r#"{"myInstance": "i-0123456789","myStatus": "i-0123456789 is in state \"RUNNING\""}"#,
        ),
    ];
    for (template, expected) in rows {
        assert_eq!(render(template), expected, "{template}");
    }
}

#[test]
fn values_of_every_type_and_missing_variables() {
    let rows = [
        (r#"{"n": <count>}"#, r#"{"n": 3}"#),
        (r#"{"n": "<count>"}"#, r#"{"n": "3"}"#),
        (r#"{"t": <tags>}"#, r#"{"t": {"a":"x","b":2}}"#),
        (r#"{"t": "<tags>"}"#, r#"{"t": "{"a":"x","b":2}"}"#),
        (r#"{"m": <missing>, "k": 1}"#, r#"{"m": null, "k": 1}"#),
        (r#"{"m": "[<missing>]"}"#, r#"{"m": "[]"}"#),
        ("count=<count> missing=<missing>.", "count=3 missing=."),
        ("<tags>", r#"{"a":"x","b":2}"#),
        ("<instance>", r#""i-0123456789""#),
        ("[<count>, <state>]", r#"[3, "RUNNING"]"#),
        ("a <b> c <undefined> <instance", "a <b> c <undefined> <instance"),
        (r#"{"time": <aws.events.event.ingestion-time>}"#, r#"{"time": "2015-11-11T21:29:55Z"}"#),
        ("plain text, no placeholders", "plain text, no placeholders"),
    ];
    for (template, expected) in rows {
        assert_eq!(render(template), expected, "{template}");
    }
}

#[test]
fn whole_event_variables() {
    let event = ec2_event();
    let with_detail: Value = serde_json::from_str(&render(r#"{"e": <aws.events.event.json>}"#)).unwrap();
    assert_eq!(with_detail["e"], event);
    let without: Value = serde_json::from_str(&render(r#"{"e": <aws.events.event>}"#)).unwrap();
    let mut expected = event.clone();
    expected.as_object_mut().unwrap().remove("detail");
    assert_eq!(without["e"], expected);
}

#[test]
fn target_inputs() {
    let event = ec2_event();
    let body = |input: TargetInput| input.render(&event, &CONTEXT);
    assert_eq!(body(TargetInput::new(None, None, None).unwrap()), Ok(event.to_string()));
    assert_eq!(
        body(TargetInput::new(Some(r#"{"fixed": true}"#), None, None).unwrap()),
        Ok(r#"{"fixed": true}"#.into())
    );
    assert_eq!(body(TargetInput::new(None, Some("$.detail.state"), None).unwrap()), Ok(r#""RUNNING""#.into()));
    assert_eq!(
        body(TargetInput::new(None, Some("$.resources"), None).unwrap()),
        Ok(r#"["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]"#.into())
    );
    assert_eq!(
        body(TargetInput::path("$.detail.nothing").unwrap()),
        Err(TransformError::InputPathNotFound("$.detail.nothing".into()))
    );
    let transformer = InputTransformer::new([("s", "$.detail.state")], "state: <s>").unwrap();
    assert!(!transformer.is_json());
    assert_eq!(body(TargetInput::new(None, None, Some(transformer)).unwrap()), Ok("state: RUNNING".into()));
}

#[test]
fn refusals() {
    let template_error = |paths: &[(&str, &str)], template: &str| {
        InputTransformer::new(paths.iter().copied(), template).expect_err(template)
    };
    assert!(matches!(template_error(&[("a", "$.a")], r#"{<a>: 1}"#), TargetInputError::InvalidTemplate(_)));
    assert!(matches!(template_error(&[], ""), TargetInputError::Length { field: "InputTemplate", .. }));
    let long = "x".repeat(8193);
    assert!(matches!(template_error(&[], &long), TargetInputError::Length { chars: 8193, .. }));
    assert!(matches!(template_error(&[("aws.x", "$.a")], "x"), TargetInputError::InvalidVariableName(_)));
    assert!(matches!(template_error(&[("", "$.a")], "x"), TargetInputError::InvalidVariableName(_)));
    assert!(matches!(template_error(&[("a", "detail")], "x"), TargetInputError::InvalidPath { .. }));
    let many: Vec<(String, String)> = (0..101).map(|i| (format!("v{i}"), "$.a".to_string())).collect();
    let many_error = InputTransformer::new(many.iter().map(|(k, v)| (k.as_str(), v.as_str())), "x").unwrap_err();
    assert_eq!(many_error, TargetInputError::TooManyVariables(101));

    let transformer = InputTransformer::new([("a", "$.a")], "<a>").unwrap();
    assert_eq!(TargetInput::new(Some("{}"), None, Some(transformer)), Err(TargetInputError::MoreThanOneInput));
    assert!(matches!(TargetInput::new(Some("{not json"), None, None), Err(TargetInputError::InputNotJson(_))));
    assert!(matches!(TargetInput::new(None, Some("$.a[x]"), None), Err(TargetInputError::InvalidPath { .. })));
    assert!(matches!(
        TargetInput::constant(&format!("\"{}\"", "x".repeat(8191))),
        Err(TargetInputError::Length { .. })
    ));
}
