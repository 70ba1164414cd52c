//! IAM's handlers and the authorizer, driven without HTTP on every store backend.

use super::*;
use crate::access::RootCredentials;
use crate::store::IamStore;
use flotilla_core::AccountContext;
use flotilla_protocol::{AuthorizationRequest, Authorizer, Caller, CredentialSource, Decision as Door};

const ACCOUNT: &str = "000000000000";

async fn access_on(location: &flotilla_db::StoreLocation) -> Access {
    let store = IamStore::open(location, flotilla_seal::Sealer::from_key([7; 32])).await.unwrap();
    Access::new(
        store,
        AccountContext::default(),
        RootCredentials { access_key_id: "ROOTKEY".into(), secret_access_key: "rootsecret".into() },
    )
}

fn query(action: &str, params: &[(&str, &str)]) -> QueryRequest {
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("Action", action).append_pair("Version", "2010-05-08");
    for (k, v) in params {
        body.append_pair(k, v);
    }
    QueryRequest::parse(body.finish().as_bytes()).unwrap()
}

async fn ok(access: &Access, action: &str, params: &[(&str, &str)]) -> String {
    let out = call(access, action, &query(action, params))
        .await
        .unwrap_or_else(|e| panic!("{action} failed: {e} ({:?})", e.code()));
    let mut w = XmlWriter::new();
    w.open("R");
    out(&mut w);
    w.close();
    w.finish()
}

async fn err(access: &Access, action: &str, params: &[(&str, &str)]) -> &'static str {
    match call(access, action, &query(action, params)).await {
        Ok(_) => panic!("{action} should have failed"),
        Err(e) => e.code().0,
    }
}

/// The text of the first `<name>` element.
fn text(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{name}> in {xml}")) + open.len();
    xml[start..start + xml[start..].find('<').unwrap()].to_string()
}

async fn decide(access: &Access, key: &str, action: &str, resource: &str, conditions: &[(String, String)]) -> bool {
    let principal = access.lookup(key).await.unwrap().expect("known key");
    let caller = Caller { access_key_id: key.into(), principal_arn: principal.arn, request_id: "r".into() };
    let resources = [resource.to_string()];
    let request = AuthorizationRequest {
        caller: &caller,
        service: action.split(':').next().unwrap(),
        operation: "Op",
        action,
        resources: &resources,
        conditions,
        source_ip: Some("127.0.0.1".parse().unwrap()),
        resource_tags: None,
    };
    access.authorize(&request).await == Door::Allow
}

const DESCRIBE_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecs:Describe*","ecs:List*"],"Resource":"*"}]}"#;

#[tokio::test]
async fn users_keys_and_policies_decide_calls() {
    for backend in flotilla_db::testing::backends() {
        let access = access_on(&backend.location).await;
        ok(&access, "CreateUser", &[("UserName", "alice")]).await;
        assert_eq!(err(&access, "CreateUser", &[("UserName", "Alice")]).await, "EntityAlreadyExists");
        let key = ok(&access, "CreateAccessKey", &[("UserName", "alice")]).await;
        let key_id = text(&key, "AccessKeyId");
        assert!(key_id.starts_with("AKIA"), "{}", backend.label);
        if let flotilla_db::StoreLocation::Sqlite { dir } = &backend.location {
            let secret = text(&key, "SecretAccessKey");
            for file in ["iam.db", "iam.db-wal"] {
                let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
                assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret key is in {file}");
            }
            // And it still verifies: the front door finds it, opened.
            let found = access.lookup(&key_id).await.unwrap().expect("the key");
            assert_eq!(found.credentials.secret_access_key.expose(), secret);
        }

        // A new user may do nothing.
        let cluster = format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/default");
        assert!(!decide(&access, &key_id, "ecs:DescribeClusters", &cluster, &[]).await);

        ok(
            &access,
            "PutUserPolicy",
            &[("UserName", "alice"), ("PolicyName", "read"), ("PolicyDocument", DESCRIBE_ONLY)],
        )
        .await;
        assert!(decide(&access, &key_id, "ecs:DescribeClusters", &cluster, &[]).await);
        assert!(!decide(&access, &key_id, "ecs:RunTask", "*", &[]).await);

        // An explicit deny in a group beats the user's allow.
        ok(&access, "CreateGroup", &[("GroupName", "no-describe")]).await;
        ok(&access, "AddUserToGroup", &[("GroupName", "no-describe"), ("UserName", "alice")]).await;
        let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ecs:DescribeClusters","Resource":"*"}]}"#;
        let created = ok(&access, "CreatePolicy", &[("PolicyName", "deny-describe"), ("PolicyDocument", deny)]).await;
        let arn = text(&created, "Arn");
        ok(&access, "AttachGroupPolicy", &[("GroupName", "no-describe"), ("PolicyArn", &arn)]).await;
        assert!(!decide(&access, &key_id, "ecs:DescribeClusters", &cluster, &[]).await);
        assert!(decide(&access, &key_id, "ecs:ListClusters", "*", &[]).await);

        // Conditions on ecs:cluster.
        let one_cluster = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:RunTask","Resource":"*","Condition":{"ArnEquals":{"ecs:cluster":"arn:aws:ecs:us-east-1:000000000000:cluster/blue"}}}]}"#;
        ok(&access, "PutUserPolicy", &[("UserName", "alice"), ("PolicyName", "run"), ("PolicyDocument", one_cluster)])
            .await;
        let blue = [("ecs:cluster".to_string(), format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/blue"))];
        let green = [("ecs:cluster".to_string(), format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/green"))];
        assert!(decide(&access, &key_id, "ecs:RunTask", "*", &blue).await);
        assert!(!decide(&access, &key_id, "ecs:RunTask", "*", &green).await);

        // A deactivated key is unknown to the front door.
        ok(&access, "UpdateAccessKey", &[("UserName", "alice"), ("AccessKeyId", &key_id), ("Status", "Inactive")])
            .await;
        assert!(access.lookup(&key_id).await.unwrap().is_none());

        // Nothing with attachments, keys or members can be deleted.
        assert_eq!(err(&access, "DeleteUser", &[("UserName", "alice")]).await, "DeleteConflict");
        assert_eq!(err(&access, "DeletePolicy", &[("PolicyArn", &arn)]).await, "DeleteConflict");
        let listed = ok(&access, "GetAccountAuthorizationDetails", &[]).await;
        assert!(listed.contains("<UserName>alice</UserName>") && listed.contains("deny-describe"), "{listed}");
    }
}

#[tokio::test]
async fn malformed_and_oversized_policies_are_refused() {
    let backend = &flotilla_db::testing::backends()[0];
    let access = access_on(&backend.location).await;
    ok(&access, "CreateUser", &[("UserName", "bob")]).await;
    for bad in [
        "{",
        r#"{"Version":"2012-10-17","Statement":[{"Action":"ecs:*","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Principal":"*"}]}"#,
    ] {
        let code =
            err(&access, "PutUserPolicy", &[("UserName", "bob"), ("PolicyName", "p"), ("PolicyDocument", bad)]).await;
        assert_eq!(code, "MalformedPolicyDocument", "{bad}");
    }
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":[{}],"Resource":"*"}}]}}"#,
        (0..400).map(|i| format!("\"ecs:Action{i}\"")).collect::<Vec<_>>().join(",")
    );
    let code =
        err(&access, "PutUserPolicy", &[("UserName", "bob"), ("PolicyName", "p"), ("PolicyDocument", &huge)]).await;
    assert_eq!(code, "LimitExceeded");
    assert_eq!(err(&access, "GetUser", &[("UserName", "nobody")]).await, "NoSuchEntity");
    assert_eq!(err(&access, "CreateUser", &[("UserName", "bad name")]).await, "ValidationError");
}

#[tokio::test]
async fn policy_versions_keep_a_default() {
    let backend = &flotilla_db::testing::backends()[0];
    let access = access_on(&backend.location).await;
    let created = ok(&access, "CreatePolicy", &[("PolicyName", "p"), ("PolicyDocument", DESCRIBE_ONLY)]).await;
    let arn = text(&created, "Arn");
    for _ in 0..4 {
        ok(&access, "CreatePolicyVersion", &[("PolicyArn", &arn), ("PolicyDocument", DESCRIBE_ONLY)]).await;
    }
    let code = err(&access, "CreatePolicyVersion", &[("PolicyArn", &arn), ("PolicyDocument", DESCRIBE_ONLY)]).await;
    assert_eq!(code, "LimitExceeded");
    assert_eq!(
        err(&access, "DeletePolicyVersion", &[("PolicyArn", &arn), ("VersionId", "v1")]).await,
        "DeleteConflict"
    );
    ok(&access, "SetDefaultPolicyVersion", &[("PolicyArn", &arn), ("VersionId", "v3")]).await;
    ok(&access, "DeletePolicyVersion", &[("PolicyArn", &arn), ("VersionId", "v1")]).await;
    let got = ok(&access, "GetPolicy", &[("PolicyArn", &arn)]).await;
    assert_eq!(text(&got, "DefaultVersionId"), "v3");
    let aws = "arn:aws:iam::aws:policy/AdministratorAccess";
    assert_eq!(
        err(&access, "CreatePolicyVersion", &[("PolicyArn", aws), ("PolicyDocument", DESCRIBE_ONLY)]).await,
        "InvalidInput"
    );
}

#[tokio::test]
async fn lists_page_with_markers() {
    let backend = &flotilla_db::testing::backends()[0];
    let access = access_on(&backend.location).await;
    for i in 0..5 {
        ok(&access, "CreateUser", &[("UserName", &format!("u{i}"))]).await;
    }
    let first = ok(&access, "ListUsers", &[("MaxItems", "3")]).await;
    assert_eq!(text(&first, "IsTruncated"), "true");
    let marker = text(&first, "Marker");
    let second = ok(&access, "ListUsers", &[("MaxItems", "3"), ("Marker", &marker)]).await;
    assert_eq!(text(&second, "IsTruncated"), "false");
    assert!(second.contains("<UserName>u3</UserName>") && second.contains("<UserName>u4</UserName>"));
    assert!(!second.contains("<UserName>u2</UserName>"));
}

#[tokio::test]
async fn simulate_answers_from_the_same_evaluator() {
    let backend = &flotilla_db::testing::backends()[0];
    let access = access_on(&backend.location).await;
    ok(&access, "CreateUser", &[("UserName", "carol")]).await;
    ok(&access, "PutUserPolicy", &[("UserName", "carol"), ("PolicyName", "read"), ("PolicyDocument", DESCRIBE_ONLY)])
        .await;
    let arn = format!("arn:aws:iam::{ACCOUNT}:user/carol");
    let out = ok(
        &access,
        "SimulatePrincipalPolicy",
        &[
            ("PolicySourceArn", &arn),
            ("ActionNames.member.1", "ecs:DescribeClusters"),
            ("ActionNames.member.2", "ecs:RunTask"),
        ],
    )
    .await;
    assert!(out.contains("<EvalActionName>ecs:DescribeClusters</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>allowed</EvalDecision>"), "{out}");
    assert!(out.contains("<EvalDecision>implicitDeny</EvalDecision>"), "{out}");
    assert!(out.contains("<SourcePolicyId>read</SourcePolicyId>"), "{out}");
}
