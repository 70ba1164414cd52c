//! Evaluation benchmark: one principal with 10 policies of 10 statements each, as
//! the authorizer judges every request.
//!
//! Run with `cargo bench -p flotilla-iam-policy` (release profile). Prints one
//! machine-readable line per figure; nothing here fails on slowness.

use std::hint::black_box;
use std::time::Instant;

use flotilla_iam_policy::{ContextKeys, Decision, PolicyDocument, PolicyKind, RequestContext, evaluate};

const ACCOUNT: &str = "123456789012";

/// The `i`-th policy: ten statements mixing wildcard actions, ARNs with wildcards,
/// one StringEquals and one ArnLike condition, and two Denies.
fn policy(i: usize) -> String {
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [
    {{"Sid": "Read{i}", "Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"], "Resource": "*"}},
    {{"Effect": "Allow", "Action": ["ecs:RunTask", "ecs:StartTask"],
      "Resource": "arn:aws:ecs:*:{ACCOUNT}:task-definition/app-{i}-*:*"}},
    {{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::bucket-{i}/*"}},
    {{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
      "Resource": "arn:aws:logs:*:{ACCOUNT}:log-group:/ecs/app-{i}:*"}},
    {{"Sid": "Secrets{i}", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app-{i}/*",
      "Condition": {{"StringEquals": {{"aws:ResourceTag/team": "team-{i}"}}}}}},
    {{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:{ACCOUNT}:queue-{i}-*",
      "Condition": {{"ArnLike": {{"aws:SourceArn": "arn:aws:ecs:*:{ACCOUNT}:service/cluster-{i}/*"}}}}}},
    {{"Effect": "Deny", "Action": ["s3:DeleteBucket", "s3:PutBucketPolicy"], "Resource": "arn:aws:s3:::bucket-{i}"}},
    {{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
      "Resource": "*"}},
    {{"Effect": "Deny", "Action": "ec2:*", "Resource": "*",
      "Condition": {{"StringNotEquals": {{"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}}}},
    {{"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "arn:aws:elasticloadbalancing:*:{ACCOUNT}:*/app-{i}/*"}}
  ]
}}"#
    )
}

struct Request {
    name: &'static str,
    action: &'static str,
    resource: String,
    keys: ContextKeys,
    expected: Decision,
}

fn request(
    name: &'static str,
    action: &'static str,
    resource: &str,
    keys: &[(&str, &str)],
    expected: Decision,
) -> Request {
    let mut ctx = ContextKeys::new();
    ctx.insert("aws:username", "deployer");
    ctx.insert("aws:PrincipalAccount", ACCOUNT);
    ctx.insert("aws:SourceIp", "10.1.2.3");
    ctx.insert("aws:SecureTransport", "true");
    ctx.insert("aws:RequestedRegion", "us-east-1");
    for (k, v) in keys {
        ctx.insert_all(k, vec![v.to_string()]);
    }
    Request { name, action, resource: resource.to_string(), keys: ctx, expected }
}

fn requests() -> Vec<Request> {
    use Decision::*;
    vec![
        request("describe", "ecs:DescribeClusters", "*", &[], Allow),
        request("s3-get", "s3:GetObject", "arn:aws:s3:::bucket-7/reports/2026/01.csv", &[], Allow),
        request(
            "secret-tagged",
            "secretsmanager:GetSecretValue",
            &format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app-4/db-AbCdEf"),
            &[("aws:ResourceTag/team", "team-4")],
            Allow,
        ),
        request(
            "sqs-from-service",
            "sqs:SendMessage",
            &format!("arn:aws:sqs:eu-west-1:{ACCOUNT}:queue-9-orders"),
            &[("aws:SourceArn", &format!("arn:aws:ecs:eu-west-1:{ACCOUNT}:service/cluster-9/web"))],
            Allow,
        ),
        request("s3-delete-bucket", "s3:DeleteBucket", "arn:aws:s3:::bucket-3", &[], ExplicitDeny),
        request("ec2-other-region", "ec2:RunInstances", "*", &[("aws:RequestedRegion", "ap-south-1")], ExplicitDeny),
        request(
            "dynamodb",
            "dynamodb:GetItem",
            &format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"),
            &[],
            ImplicitDeny,
        ),
        request("s3-other-bucket", "s3:GetObject", "arn:aws:s3:::elsewhere/key", &[], ImplicitDeny),
    ]
}

fn ctx(r: &Request) -> RequestContext<'_> {
    RequestContext { action: r.action, resource: &r.resource, principal: None, keys: &r.keys }
}

fn main() {
    let texts: Vec<String> = (0..10).map(policy).collect();
    let rounds = 2000;
    let started = Instant::now();
    for _ in 0..rounds {
        for text in &texts {
            black_box(PolicyDocument::parse(black_box(text), PolicyKind::Identity).unwrap());
        }
    }
    let parse_us = started.elapsed().as_secs_f64() * 1e6 / (rounds * texts.len()) as f64;
    println!("bench=iam_policy_parse policies={} statements_each=10 us_per_policy={parse_us:.2}", texts.len());

    let policies: Vec<PolicyDocument> =
        texts.iter().map(|t| PolicyDocument::parse(t, PolicyKind::Identity).unwrap()).collect();
    let requests = requests();
    for r in &requests {
        assert_eq!(evaluate(&policies, &ctx(r)), r.expected, "{}", r.name);
    }

    let total = 1_000_000;
    let mut allowed = 0usize;
    let started = Instant::now();
    for n in 0..total {
        let r = &requests[n % requests.len()];
        if evaluate(black_box(&policies), &ctx(r)) == Decision::Allow {
            allowed += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "bench=iam_policy_evaluate policies={} statements={} requests={total} allowed={allowed} ns_per_op={:.1} ops_per_s={:.0}",
        policies.len(),
        policies.iter().map(PolicyDocument::statements).sum::<usize>(),
        elapsed * 1e9 / total as f64,
        total as f64 / elapsed
    );

    for r in &requests {
        let rounds = 100_000;
        let started = Instant::now();
        for _ in 0..rounds {
            black_box(evaluate(black_box(&policies), &ctx(r)));
        }
        let ns = started.elapsed().as_secs_f64() * 1e9 / f64::from(rounds);
        println!("bench=iam_policy_evaluate_one request={} decision={:?} ns_per_op={ns:.1}", r.name, r.expected);
    }
}
