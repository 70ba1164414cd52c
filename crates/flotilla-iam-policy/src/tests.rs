//! Table-driven tests of parsing, matching and evaluation through the public API.

use crate::*;

const ACCOUNT: &str = "123456789012";

/// Condition keys of a case: name and values.
type Keys<'a> = &'a [(&'a str, &'a [&'a str])];

fn identity(text: &str) -> PolicyDocument {
    PolicyDocument::parse(text, PolicyKind::Identity).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn resource_policy(text: &str) -> PolicyDocument {
    PolicyDocument::parse(text, PolicyKind::Resource).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// An identity policy of one statement.
fn statement(effect: &str, body: &str) -> PolicyDocument {
    identity(&format!(r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "{effect}", {body}}}}}"#))
}

fn keys(pairs: &[(&str, &[&str])]) -> ContextKeys {
    let mut keys = ContextKeys::new();
    for (k, vs) in pairs {
        keys.insert_all(k, vs.iter().map(|v| v.to_string()).collect());
    }
    keys
}

fn decide(policies: &[&PolicyDocument], action: &str, resource: &str, keys: &ContextKeys) -> Decision {
    evaluate(policies.iter().copied(), &RequestContext { action, resource, principal: None, keys })
}

fn allowed(policy: &PolicyDocument, action: &str, resource: &str, keys: &ContextKeys) -> bool {
    decide(&[policy], action, resource, keys) == Decision::Allow
}

#[test]
fn parse_refusals() {
    use PolicyKind::*;
    let cases: &[(PolicyKind, &str, &str)] = &[
        (Identity, "[]", "Syntax errors in policy."),
        (Identity, r#"{"Version":"2012-10-17"}"#, "Missing required field Statement"),
        (Identity, r#"{"Version":"2012-10-17","Statement":[]}"#, "Statement must not be empty"),
        (Identity, r#"{"Version":"2013-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#, "Version"),
        (
            Identity,
            r#"{"Version":"2012-10-17","Foo":1,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            "Unknown field Foo",
        ),
        (Identity, r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Bar":1}}"#, "Unknown field Bar"),
        (Identity, r#"{"Statement":{"Action":"*","Resource":"*"}}"#, "Missing required field Effect"),
        (Identity, r#"{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#, "Invalid effect"),
        (Identity, r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#, "Missing required field Action"),
        (Identity, r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#, "Missing required field Resource"),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","NotAction":"x:y","Resource":"*"}}"#,
            "both Action and NotAction",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}}"#,
            "both Resource and NotResource",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"ecs RunTask","Resource":"*"}}"#,
            "Invalid Action: 'ecs RunTask'",
        ),
        (Identity, r#"{"Statement":{"Effect":"Allow","Action":"ecs:Run:Task","Resource":"*"}}"#, "Invalid Action"),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
            "Policy statement must contain actions.",
        ),
        (Identity, r#"{"Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}"#, "Action must be a string"),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"bucket"}}"#,
            "Resource bucket must be in ARN format",
        ),
        (Identity, r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":[]}}"#, "must contain resources"),
        (
            Identity,
            r#"{"Statement":{"Sid":"no spaces","Effect":"Allow","Action":"*","Resource":"*"}}"#,
            "alpha-numeric",
        ),
        (
            Identity,
            r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            "unique",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
            "Policy document should not specify a principal.",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"*","Resource":"*"}}"#,
            "should not specify a principal",
        ),
        (Resource, r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#, "Missing required field Principal"),
        (
            Resource,
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}}"#,
            "Invalid principal in policy: \"AWS\":\"bob\"",
        ),
        (
            Resource,
            r#"{"Statement":{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"sts:AssumeRole"}}"#,
            "Invalid principal",
        ),
        (
            Resource,
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/*"},"Action":"sts:AssumeRole"}}"#,
            "Invalid principal",
        ),
        (
            Resource,
            r#"{"Statement":{"Effect":"Allow","Principal":"bob","Action":"sts:AssumeRole"}}"#,
            "Invalid principal",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}}"#,
            "Unknown condition operator: StringEqualz",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"aws:username":"true"}}}}"#,
            "Unknown condition operator",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}}"#,
            "Invalid value for condition operator NumericLessThan, key s3:max-keys: 'ten'",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}"#,
            "'tomorrow'",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}}"#,
            "'10.0.0.0/33'",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0/8"}}}}"#,
            "'10.0.0/8'",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}}"#,
            "'yes'",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}}"#,
            "prefaced by a vendor",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":{"a":1}}}}}"#,
            "strings, numbers or booleans",
        ),
        (
            Identity,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":"x"}}}"#,
            "must map keys to values",
        ),
        (
            Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${aws:username"}}"#,
            "Invalid policy variable",
        ),
        (Identity, r#"{"Statement":"Allow"}"#, "must be a JSON object"),
    ];
    for (kind, text, expected) in cases {
        match PolicyDocument::parse(text, *kind) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => {
                assert!(e.message.contains(expected), "{text}: got {:?}, wanted {expected:?}", e.message);
                assert_eq!((e.line, e.column), (None, None), "{text}");
            }
        }
    }
}

#[test]
fn json_syntax_errors_carry_positions() {
    let cases: &[(&str, usize, usize)] = &[
        ("", 1, 0),
        ("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\" [\n", 3, 15),
        ("{\"Statement\": {\"Effect\": \"Allow\",}}", 1, 34),
        ("{\"Statement\": {}} trailing", 1, 19),
    ];
    for (text, line, column) in cases {
        let e = PolicyDocument::parse(text, PolicyKind::Identity).unwrap_err();
        assert_eq!((e.line, e.column), (Some(*line), Some(*column)), "{text:?}: {e}");
        assert_eq!(e.message, format!("Syntax errors in policy. (line {line}, column {column})"));
        assert_eq!(e.to_string(), e.message);
    }
}

#[test]
fn accepted_documents() {
    let p = identity(
        r#"{"Version":"2012-10-17","Id":"p1","Statement":[
            {"Sid":"One","Effect":"Allow","Action":["ecs:*","ecr:Get?"],"Resource":["*"]},
            {"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:s3:::b/*",
             "Condition":{"StringEquals":{"aws:username":["a",1,true]}}}]}"#,
    );
    assert_eq!(p.statements(), 2);
    assert_eq!(p.version(), "2012-10-17");
    assert_eq!(p.id(), Some("p1"));
    assert_eq!(p.sids().collect::<Vec<_>>(), vec![Some("One"), None]);
    let legacy = identity(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
    assert_eq!(legacy.version(), "2008-10-17");
    let trust = resource_policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":["ecs-tasks.amazonaws.com"]},"Action":"sts:AssumeRole"}}"#,
    );
    assert_eq!(trust.kind(), PolicyKind::Resource);
}

#[test]
fn action_and_resource_matching() {
    let none = ContextKeys::new();
    // (statement body, action, resource, allowed)
    let cases: &[(&str, &str, &str, bool)] = &[
        (r#""Action":"*","Resource":"*""#, "ecs:RunTask", "arn:aws:ecs:us-east-1:1:task/x", true),
        (r#""Action":"ecs:*","Resource":"*""#, "ecs:RunTask", "*", true),
        (r#""Action":"ecs:*","Resource":"*""#, "ecr:GetAuthorizationToken", "*", false),
        (r#""Action":"ECS:run*","Resource":"*""#, "ecs:RunTask", "*", true),
        (r#""Action":"ecs:RunTask","Resource":"*""#, "ECS:RUNTASK", "*", true),
        (r#""Action":"ecs:RunTask","Resource":"*""#, "ecs:RunTasks", "*", false),
        (r#""Action":"ecs:Describe*s","Resource":"*""#, "ecs:DescribeClusters", "*", true),
        (r#""Action":"ecs:Describe*s","Resource":"*""#, "ecs:DescribeCluster", "*", false),
        (r#""Action":"ecs:?unTask","Resource":"*""#, "ecs:RunTask", "*", true),
        (r#""Action":"ecs:?unTask","Resource":"*""#, "ecs:unTask", "*", false),
        (r#""Action":["s3:Get*","ecs:List*"],"Resource":"*""#, "ecs:ListTasks", "*", true),
        (r#""NotAction":"iam:*","Resource":"*""#, "ecs:RunTask", "*", true),
        (r#""NotAction":"iam:*","Resource":"*""#, "iam:CreateUser", "*", false),
        (r#""NotAction":["iam:*","sts:*"],"Resource":"*""#, "sts:AssumeRole", "*", false),
        (
            r#""Action":"*","Resource":"arn:aws:ecs:*:123456789012:cluster/*""#,
            "ecs:X",
            "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
            true,
        ),
        (
            r#""Action":"*","Resource":"arn:aws:ecs:*:123456789012:cluster/*""#,
            "ecs:X",
            "arn:aws:ecs:eu-west-1:999999999999:cluster/prod",
            false,
        ),
        (r#""Action":"*","Resource":"arn:aws:ecs:*:123456789012:cluster/*""#, "ecs:X", "*", false),
        (r#""Action":"*","Resource":"arn:aws:s3:::bucket/*""#, "s3:GetObject", "arn:aws:s3:::bucket/a/b:c", true),
        (r#""Action":"*","Resource":"arn:aws:s3:::bucket/*""#, "s3:GetObject", "arn:aws:s3:::Bucket/a", false),
        (r#""Action":"*","Resource":"arn:aws:s3:::bucket/??""#, "s3:GetObject", "arn:aws:s3:::bucket/ab", true),
        (r#""Action":"*","Resource":"arn:aws:s3:::bucket/??""#, "s3:GetObject", "arn:aws:s3:::bucket/é!", true),
        (r#""Action":"*","Resource":"arn:aws:s3:::bucket/??""#, "s3:GetObject", "arn:aws:s3:::bucket/abc", false),
        (r#""Action":"*","Resource":"arn:aws:s3:::*a*b*c""#, "s3:GetObject", "arn:aws:s3:::xxaxxbxbcxc", true),
        (r#""Action":"*","Resource":"arn:aws:s3:::*a*b*c""#, "s3:GetObject", "arn:aws:s3:::xxaxxbxbcx", false),
        (r#""Action":"*","Resource":"*""#, "s3:GetObject", "*", true),
        (r#""Action":"*","NotResource":"arn:aws:s3:::secret/*""#, "s3:GetObject", "arn:aws:s3:::public/x", true),
        (r#""Action":"*","NotResource":"arn:aws:s3:::secret/*""#, "s3:GetObject", "arn:aws:s3:::secret/x", false),
        (r#""Action":"*","NotResource":["arn:aws:s3:::a","arn:aws:s3:::b"]"#, "s3:GetObject", "arn:aws:s3:::b", false),
    ];
    for (body, action, resource, expected) in cases {
        let policy = statement("Allow", body);
        assert_eq!(allowed(&policy, action, resource, &none), *expected, "{body} / {action} / {resource}");
    }
}

#[test]
fn deny_beats_allow_and_implicit_deny() {
    let none = ContextKeys::new();
    let allow_all = statement("Allow", r#""Action":"*","Resource":"*""#);
    let deny_iam = statement("Deny", r#""Action":"iam:*","Resource":"*""#);
    let allow_ecs = statement("Allow", r#""Action":"ecs:*","Resource":"*""#);
    let cases: &[(&[&PolicyDocument], &str, Decision)] = &[
        (&[], "ecs:RunTask", Decision::ImplicitDeny),
        (&[&allow_ecs], "ecs:RunTask", Decision::Allow),
        (&[&allow_ecs], "iam:CreateUser", Decision::ImplicitDeny),
        (&[&allow_all, &deny_iam], "iam:CreateUser", Decision::ExplicitDeny),
        (&[&deny_iam, &allow_all], "iam:CreateUser", Decision::ExplicitDeny),
        (&[&deny_iam], "ecs:RunTask", Decision::ImplicitDeny),
        (&[&allow_all, &deny_iam], "ecs:RunTask", Decision::Allow),
    ];
    for (policies, action, expected) in cases {
        assert_eq!(decide(policies, action, "*", &none), *expected, "{action}");
    }
    // Deny and Allow inside one document, in either order.
    for text in [
        r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
        r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ] {
        let p = identity(text);
        assert_eq!(decide(&[&p], "s3:GetObject", "*", &none), Decision::ExplicitDeny);
        assert_eq!(decide(&[&p], "ecs:RunTask", "*", &none), Decision::Allow);
    }
}

#[test]
fn explained_names_the_deciding_statement() {
    let none = ContextKeys::new();
    let a = identity(r#"{"Statement":[{"Sid":"Ecs","Effect":"Allow","Action":"ecs:*","Resource":"*"}]}"#);
    let b = identity(
        r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoIam","Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#,
    );
    let ctx = |action| RequestContext { action, resource: "*", principal: None, keys: &none };
    assert_eq!(evaluate_explained([&a, &b], &ctx("ecs:RunTask")), (Decision::Allow, Some((0, Some("Ecs".into())))));
    assert_eq!(evaluate_explained([&a, &b], &ctx("s3:GetObject")), (Decision::Allow, Some((1, None))));
    assert_eq!(
        evaluate_explained([&a, &b], &ctx("iam:CreateUser")),
        (Decision::ExplicitDeny, Some((1, Some("NoIam".into()))))
    );
    assert_eq!(evaluate_explained([&a], &ctx("iam:CreateUser")), (Decision::ImplicitDeny, None));
}

/// One condition block on an allow-all statement, against key sets.
fn condition_cases(cases: &[(&str, Keys, bool)]) {
    for (condition, pairs, expected) in cases {
        let policy = statement("Allow", &format!(r#""Action":"*","Resource":"*","Condition":{condition}"#));
        let keys = keys(pairs);
        assert_eq!(allowed(&policy, "s3:GetObject", "*", &keys), *expected, "{condition} with {pairs:?}");
    }
}

#[test]
fn string_conditions() {
    condition_cases(&[
        (r#"{"StringEquals":{"aws:username":"alice"}}"#, &[("aws:username", &["alice"])], true),
        (r#"{"StringEquals":{"aws:username":"alice"}}"#, &[("AWS:UserName", &["alice"])], true),
        (r#"{"StringEquals":{"AWS:USERNAME":"alice"}}"#, &[("aws:username", &["alice"])], true),
        (r#"{"StringEquals":{"aws:username":"alice"}}"#, &[("aws:username", &["Alice"])], false),
        (r#"{"StringEquals":{"aws:username":"ali*"}}"#, &[("aws:username", &["alice"])], false),
        (r#"{"StringEquals":{"aws:username":["bob","alice"]}}"#, &[("aws:username", &["alice"])], true),
        (r#"{"StringEquals":{"aws:username":"alice"}}"#, &[], false),
        (r#"{"StringNotEquals":{"aws:username":"alice"}}"#, &[("aws:username", &["bob"])], true),
        (r#"{"StringNotEquals":{"aws:username":"alice"}}"#, &[("aws:username", &["alice"])], false),
        (r#"{"StringNotEquals":{"aws:username":"alice"}}"#, &[], true),
        (r#"{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}"#, &[("aws:username", &["alice"])], true),
        (r#"{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}"#, &[("aws:username", &["bob"])], false),
        (r#"{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}"#, &[("aws:username", &["alice"])], false),
        (r#"{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}"#, &[("aws:username", &["bob"])], true),
        (r#"{"StringLike":{"s3:prefix":"home/*"}}"#, &[("s3:prefix", &["home/alice/x"])], true),
        (r#"{"StringLike":{"s3:prefix":"home/?"}}"#, &[("s3:prefix", &["home/ab"])], false),
        (r#"{"StringLike":{"s3:prefix":["", "home/*"]}}"#, &[("s3:prefix", &[""])], true),
        (r#"{"StringNotLike":{"s3:prefix":"home/*"}}"#, &[("s3:prefix", &["etc/x"])], true),
        (r#"{"StringNotLike":{"s3:prefix":"home/*"}}"#, &[("s3:prefix", &["home/x"])], false),
        (r#"{"StringNotLike":{"s3:prefix":"home/*"}}"#, &[], true),
        (r#"{"StringEquals":{"aws:MultiFactorAuthAge":3600}}"#, &[("aws:MultiFactorAuthAge", &["3600"])], true),
        (r#"{"StringEqualsIfExists":{"aws:username":"alice"}}"#, &[], true),
        (r#"{"StringEqualsIfExists":{"aws:username":"alice"}}"#, &[("aws:username", &["bob"])], false),
        (r#"{"StringLikeIfExists":{"aws:username":"a*"}}"#, &[("aws:username", &["al"])], true),
        (r#"{"BinaryEquals":{"aws:key":"QmluYXJ5"}}"#, &[("aws:key", &["QmluYXJ5"])], true),
        (r#"{"BinaryEquals":{"aws:key":"QmluYXJ5"}}"#, &[("aws:key", &["QmluYXJ6"])], false),
        (r#"{"BinaryEqualsIfExists":{"aws:key":"QmluYXJ5"}}"#, &[], true),
        // Several keys, and several operators: AND.
        (
            r#"{"StringEquals":{"aws:username":"alice","aws:RequestedRegion":"eu-west-1"}}"#,
            &[("aws:username", &["alice"]), ("aws:RequestedRegion", &["us-east-1"])],
            false,
        ),
        (
            r#"{"StringEquals":{"aws:username":"alice"},"StringLike":{"aws:RequestedRegion":"eu-*"}}"#,
            &[("aws:username", &["alice"]), ("aws:RequestedRegion", &["eu-west-1"])],
            true,
        ),
        (
            r#"{"StringEquals":{"aws:username":"alice"},"StringLike":{"aws:RequestedRegion":"eu-*"}}"#,
            &[("aws:username", &["alice"]), ("aws:RequestedRegion", &["us-east-1"])],
            false,
        ),
    ]);
}

#[test]
fn numeric_date_bool_conditions() {
    condition_cases(&[
        (r#"{"NumericEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["10"])], true),
        (r#"{"NumericEquals":{"s3:max-keys":10}}"#, &[("s3:max-keys", &["10.0"])], true),
        (r#"{"NumericEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["11"])], false),
        (r#"{"NumericEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["ten"])], false),
        (r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["11"])], true),
        (r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["10"])], false),
        (r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#, &[], true),
        (r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["9"])], true),
        (r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["10"])], false),
        (r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["10"])], true),
        (r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["10.5"])], true),
        (r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["10"])], false),
        (r#"{"NumericGreaterThanEquals":{"s3:max-keys":"-1.5"}}"#, &[("s3:max-keys", &["-1.5"])], true),
        (r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#, &[], false),
        (r#"{"NumericLessThanIfExists":{"s3:max-keys":"10"}}"#, &[], true),
        (r#"{"NumericLessThanIfExists":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["20"])], false),
        (
            r#"{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-01-01T00:00:00.000Z"])],
            true,
        ),
        (r#"{"DateEquals":{"aws:CurrentTime":"2026-01-01"}}"#, &[("aws:CurrentTime", &["1767225600"])], true),
        (
            r#"{"DateEquals":{"aws:CurrentTime":1767225600}}"#,
            &[("aws:CurrentTime", &["2026-01-01T01:00:00+01:00"])],
            true,
        ),
        (
            r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-01-02T00:00:00Z"])],
            true,
        ),
        (r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, &[], true),
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2025-12-31T23:59:59Z"])],
            true,
        ),
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-01-01T00:00:00Z"])],
            false,
        ),
        (
            r#"{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-01-01T00:00:00Z"])],
            true,
        ),
        (
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-06-01T00:00:00Z"])],
            true,
        ),
        (
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["garbage"])],
            false,
        ),
        (
            r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["1767225600"])],
            true,
        ),
        (r#"{"DateGreaterThanIfExists":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, &[], true),
        (r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", &["true"])], true),
        (r#"{"Bool":{"aws:SecureTransport":true}}"#, &[("aws:SecureTransport", &["TRUE"])], true),
        (r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", &["false"])], false),
        (r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &[], false),
        (r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#, &[], true),
        (
            r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#,
            &[("aws:MultiFactorAuthPresent", &["true"])],
            false,
        ),
    ]);
}

#[test]
fn ip_arn_null_conditions() {
    condition_cases(&[
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["10.20.30.40"])], true),
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["11.0.0.1"])], false),
        (
            r#"{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.7"]}}"#,
            &[("aws:SourceIp", &["203.0.113.7"])],
            true,
        ),
        (r#"{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}"#, &[("aws:SourceIp", &["203.0.113.8"])], false),
        (r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#, &[("aws:SourceIp", &["8.8.8.8"])], true),
        (r#"{"IpAddress":{"aws:SourceIp":"10.1.2.3/8"}}"#, &[("aws:SourceIp", &["10.9.9.9"])], true),
        (r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#, &[("aws:SourceIp", &["2001:db8:1::5"])], true),
        (r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#, &[("aws:SourceIp", &["2001:db9::5"])], false),
        (r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#, &[("aws:SourceIp", &["10.0.0.1"])], false),
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["::ffff:10.0.0.1"])], true),
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["not-an-ip"])], false),
        (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[], false),
        (r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["11.0.0.1"])], true),
        (r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["10.0.0.1"])], false),
        (r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[], true),
        (r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[], true),
        (
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#,
            &[("aws:SourceArn", &["arn:aws:sns:us-east-1:123456789012:topic"])],
            true,
        ),
        (
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#,
            &[("aws:SourceArn", &["arn:aws:sns:us-east-1:123456789012:other"])],
            false,
        ),
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:ecs:*:123456789012:service/*"}}"#,
            &[("aws:SourceArn", &["arn:aws:ecs:eu-west-1:123456789012:service/c/s"])],
            true,
        ),
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:ecs:*:123456789012:service/*"}}"#,
            &[("aws:SourceArn", &["arn:aws:ecs:eu-west-1:999999999999:service/c/s"])],
            false,
        ),
        // A wildcard stays within its part.
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:ecs:*:service/*"}}"#,
            &[("aws:SourceArn", &["arn:aws:ecs:eu-west-1:123456789012:service/x"])],
            false,
        ),
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::bucket/*"}}"#,
            &[("aws:SourceArn", &["arn:aws:s3:::bucket/a:b"])],
            true,
        ),
        (r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::bucket/*"}}"#, &[("aws:SourceArn", &["not-an-arn"])], false),
        (r#"{"ArnLike":{"aws:SourceArn":"*"}}"#, &[("aws:SourceArn", &["anything"])], true),
        (r#"{"ArnLike":{"aws:SourceArn":"arn:*"}}"#, &[("aws:SourceArn", &["arn:aws:s3:::b"])], false),
        (r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::b?"}}"#, &[("aws:SourceArn", &["arn:aws:s3:::b1"])], true),
        (
            r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#,
            &[("aws:SourceArn", &["arn:aws:sns:us-east-1:123456789012:other"])],
            true,
        ),
        (
            r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:topic"}}"#,
            &[("aws:SourceArn", &["arn:aws:sns:us-east-1:123456789012:topic"])],
            false,
        ),
        (r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:topic"}}"#, &[], true),
        (r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:sns:*:*:topic"}}"#, &[], true),
        (r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:topic"}}"#, &[], false),
        (r#"{"Null":{"aws:TokenIssueTime":"true"}}"#, &[], true),
        (r#"{"Null":{"aws:TokenIssueTime":"true"}}"#, &[("aws:TokenIssueTime", &["x"])], false),
        (r#"{"Null":{"aws:TokenIssueTime":false}}"#, &[("aws:TokenIssueTime", &["x"])], true),
        (r#"{"Null":{"aws:TokenIssueTime":"false"}}"#, &[], false),
        (r#"{"Null":{"aws:TokenIssueTime":"false"}}"#, &[("aws:TokenIssueTime", &[])], false),
    ]);
}

#[test]
fn multivalued_qualifiers() {
    const TAGS: &str = "aws:TagKeys";
    condition_cases(&[
        (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}"#, &[(TAGS, &["env", "cost"])], true),
        (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}"#, &[(TAGS, &["cost"])], false),
        (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}"#, &[], false),
        (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}"#, &[(TAGS, &[])], false),
        (r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["env"]}}"#, &[], true),
        (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#, &[(TAGS, &["env", "team"])], true),
        (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#, &[(TAGS, &["env", "cost"])], false),
        (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#, &[], true),
        (r#"{"ForAllValues:StringLike":{"aws:TagKeys":["team-*"]}}"#, &[(TAGS, &["team-a", "team-b"])], true),
        (r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}"#, &[(TAGS, &["env", "cost"])], true),
        (r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}"#, &[(TAGS, &["env"])], false),
        (r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}"#, &[(TAGS, &["env", "cost"])], true),
        (r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}"#, &[(TAGS, &["env", "secret"])], false),
        (r#"{"forallvalues:stringequals":{"aws:TagKeys":["env"]}}"#, &[(TAGS, &["env"])], true),
        (
            r#"{"ForAnyValue:IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[("aws:SourceIp", &["1.1.1.1", "10.0.0.1"])],
            true,
        ),
        (r#"{"ForAllValues:NumericLessThan":{"aws:n":"5"}}"#, &[("aws:n", &["1", "4"])], true),
        (r#"{"ForAllValues:NumericLessThan":{"aws:n":"5"}}"#, &[("aws:n", &["1", "6"])], false),
        // Unqualified on a multivalued key: any value; negated: none of them.
        (r#"{"StringEquals":{"aws:TagKeys":"env"}}"#, &[(TAGS, &["cost", "env"])], true),
        (r#"{"StringNotEquals":{"aws:TagKeys":"env"}}"#, &[(TAGS, &["cost", "env"])], false),
    ]);
}

#[test]
fn policy_variables() {
    let home = r#""Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*""#;
    let cases: &[(&str, &str, &str, Keys, bool)] = &[
        ("2012-10-17", home, "arn:aws:s3:::home/alice/doc", &[("aws:username", &["alice"])], true),
        ("2012-10-17", home, "arn:aws:s3:::home/alice/doc", &[("AWS:UserName", &["alice"])], true),
        ("2012-10-17", home, "arn:aws:s3:::home/bob/doc", &[("aws:username", &["alice"])], false),
        ("2012-10-17", home, "arn:aws:s3:::home/alice/doc", &[], false),
        ("2012-10-17", home, "arn:aws:s3:::home//doc", &[], false),
        // A variable's value is literal: it brings no wildcards.
        ("2012-10-17", home, "arn:aws:s3:::home/alice/doc", &[("aws:username", &["a*"])], false),
        // 2008-10-17 (or no Version): no substitution.
        ("2008-10-17", home, "arn:aws:s3:::home/alice/doc", &[("aws:username", &["alice"])], false),
        ("2008-10-17", home, "arn:aws:s3:::home/${aws:username}/doc", &[("aws:username", &["alice"])], true),
        (
            "2012-10-17",
            r#""Action":"*","Resource":"arn:aws:s3:::home/${aws:username, 'guest'}/*""#,
            "arn:aws:s3:::home/guest/x",
            &[],
            true,
        ),
        (
            "2012-10-17",
            r#""Action":"*","Resource":"arn:aws:s3:::home/${aws:username, 'guest'}/*""#,
            "arn:aws:s3:::home/alice/x",
            &[("aws:username", &["alice"])],
            true,
        ),
        ("2012-10-17", r#""Action":"*","Resource":"arn:aws:s3:::a${*}b""#, "arn:aws:s3:::a*b", &[], true),
        ("2012-10-17", r#""Action":"*","Resource":"arn:aws:s3:::a${*}b""#, "arn:aws:s3:::axb", &[], false),
        ("2012-10-17", r#""Action":"*","Resource":"arn:aws:s3:::a${?}${$}""#, "arn:aws:s3:::a?$", &[], true),
        (
            "2012-10-17",
            r#""Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#,
            "*",
            &[("aws:username", &["alice"]), ("aws:ResourceTag/owner", &["alice"])],
            true,
        ),
        (
            "2012-10-17",
            r#""Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#,
            "*",
            &[("aws:username", &["alice"]), ("aws:ResourceTag/owner", &["bob"])],
            false,
        ),
        (
            "2012-10-17",
            r#""Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#,
            "*",
            &[("aws:ResourceTag/owner", &["alice"])],
            false,
        ),
        (
            "2012-10-17",
            r#""Action":"*","Resource":"*","Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#,
            "*",
            &[("aws:username", &["alice"]), ("s3:prefix", &["home/alice/x"])],
            true,
        ),
        (
            "2012-10-17",
            r#""Action":"*","Resource":"*","Condition":{"ArnEquals":{"aws:SourceArn":"${aws:PrincipalArn}"}}"#,
            "*",
            &[
                ("aws:PrincipalArn", &["arn:aws:iam::123456789012:role/r"]),
                ("aws:SourceArn", &["arn:aws:iam::123456789012:role/r"]),
            ],
            true,
        ),
        (
            "2012-10-17",
            r#""Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:ecs:*:${aws:PrincipalAccount}:*"}}"#,
            "*",
            &[
                ("aws:PrincipalAccount", &["123456789012"]),
                ("aws:SourceArn", &["arn:aws:ecs:us-east-1:123456789012:task/x"]),
            ],
            true,
        ),
        (
            "2012-10-17",
            r#""Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:ecs:*:${aws:PrincipalAccount}:*"}}"#,
            "*",
            &[
                ("aws:PrincipalAccount", &["999999999999"]),
                ("aws:SourceArn", &["arn:aws:ecs:us-east-1:123456789012:task/x"]),
            ],
            false,
        ),
    ];
    for (version, body, resource, pairs, expected) in cases {
        let policy = identity(&format!(r#"{{"Version": "{version}", "Statement": {{"Effect": "Allow", {body}}}}}"#));
        let keys = keys(pairs);
        assert_eq!(
            allowed(&policy, "s3:GetObject", resource, &keys),
            *expected,
            "{version} {body} {resource} {pairs:?}"
        );
    }
}

#[test]
fn principals_in_trust_policies() {
    let role = PrincipalRef { arn: "arn:aws:iam::123456789012:role/deploy", account_id: ACCOUNT, service: None };
    let session =
        PrincipalRef { arn: "arn:aws:sts::123456789012:assumed-role/deploy/ci-42", account_id: ACCOUNT, service: None };
    let other_session =
        PrincipalRef { arn: "arn:aws:sts::123456789012:assumed-role/admin/ci-42", account_id: ACCOUNT, service: None };
    let user = PrincipalRef { arn: "arn:aws:iam::123456789012:user/alice", account_id: ACCOUNT, service: None };
    let stranger =
        PrincipalRef { arn: "arn:aws:iam::999999999999:user/eve", account_id: "999999999999", service: None };
    let ecs = PrincipalRef { arn: "ecs-tasks.amazonaws.com", account_id: "", service: Some("ecs-tasks.amazonaws.com") };
    let oidc = PrincipalRef {
        arn: "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        account_id: ACCOUNT,
        service: None,
    };

    type Case<'a> = (&'a str, &'a [(&'a PrincipalRef<'a>, bool)], bool);
    let cases: &[Case] = &[
        (r#""Principal":"*""#, &[(&user, true), (&stranger, true), (&ecs, true)], true),
        (r#""Principal":{"AWS":"*"}"#, &[(&user, true), (&ecs, true)], true),
        (
            r#""Principal":{"AWS":"123456789012"}"#,
            &[(&user, true), (&session, true), (&stranger, false), (&ecs, false)],
            false,
        ),
        (r#""Principal":{"AWS":"arn:aws:iam::123456789012:root"}"#, &[(&role, true), (&stranger, false)], false),
        (
            r#""Principal":{"AWS":"arn:aws:iam::123456789012:role/deploy"}"#,
            &[(&role, true), (&session, true), (&other_session, false), (&user, false)],
            false,
        ),
        (
            r#""Principal":{"AWS":"arn:aws:iam::123456789012:role/team/deploy"}"#,
            &[(&session, true), (&role, false)],
            false,
        ),
        (
            r#""Principal":{"AWS":["arn:aws:iam::123456789012:user/alice","999999999999"]}"#,
            &[(&user, true), (&stranger, true), (&role, false)],
            false,
        ),
        (r#""Principal":{"Service":"ecs-tasks.amazonaws.com"}"#, &[(&ecs, true), (&user, false)], false),
        (r#""Principal":{"Service":["ec2.amazonaws.com"]}"#, &[(&ecs, false)], false),
        (
            r#""Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}"#,
            &[(&oidc, true), (&user, false)],
            false,
        ),
        (
            r#""NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/alice"}"#,
            &[(&user, false), (&stranger, true)],
            true,
        ),
    ];
    let none = ContextKeys::new();
    for (principal, who, anonymous) in cases {
        let policy = resource_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow",{principal},"Action":"sts:AssumeRole"}}}}"#
        ));
        for (p, expected) in *who {
            let ctx = RequestContext { action: "sts:AssumeRole", resource: "*", principal: Some(p), keys: &none };
            assert_eq!(evaluate([&policy], &ctx) == Decision::Allow, *expected, "{principal} for {}", p.arn);
        }
        let ctx = RequestContext { action: "sts:AssumeRole", resource: "*", principal: None, keys: &none };
        assert_eq!(evaluate([&policy], &ctx) == Decision::Allow, *anonymous, "{principal} for anonymous");
    }

    // A resource-based policy with a Resource, and a Deny for one principal.
    let bucket = resource_policy(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:*","Resource":"*"}]}"#,
    );
    let ask = |p: &PrincipalRef<'_>, resource| {
        evaluate([&bucket], &RequestContext { action: "s3:GetObject", resource, principal: Some(p), keys: &none })
    };
    assert_eq!(ask(&role, "arn:aws:s3:::b/k"), Decision::Allow);
    assert_eq!(ask(&role, "arn:aws:s3:::c/k"), Decision::ImplicitDeny);
    assert_eq!(ask(&user, "arn:aws:s3:::b/k"), Decision::ExplicitDeny);
    assert_eq!(ask(&stranger, "arn:aws:s3:::b/k"), Decision::ImplicitDeny);
}

#[test]
fn context_keys_are_case_insensitive() {
    let mut keys = ContextKeys::new();
    keys.insert("aws:TagKeys", "a");
    keys.insert("AWS:tagkeys", "b");
    assert_eq!(keys.get("aws:tagkeys"), Some(&["a".to_string(), "b".to_string()][..]));
    keys.insert_all("AWS:TAGKEYS", vec!["c".into()]);
    assert_eq!(keys.get("aws:TagKeys"), Some(&["c".to_string()][..]));
    assert_eq!(keys.get("aws:other"), None);
    assert_eq!(keys.len(), 1);
}

#[test]
fn sizes() {
    let cases: &[(&str, usize)] = &[("", 0), ("{}", 2), ("{ \"a\" :\n\t\"b c\" }", 10), ("\u{00e9}\u{00e9}", 2)];
    for (text, size) in cases {
        assert_eq!(policy_size(text), *size, "{text:?}");
    }
    let managed = format!(r#"{{"Statement":{{"Effect":"Allow","Action":"*","Resource":"{}"}}}}"#, "*".repeat(6100));
    assert!(policy_size(&managed) > limits::MANAGED_POLICY);
    const _: () = assert!(limits::TRUST_POLICY < limits::ROLE_INLINE_TOTAL);
}

#[test]
fn documents_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<PolicyDocument>();
    check::<ContextKeys>();
    check::<MalformedPolicy>();
}
