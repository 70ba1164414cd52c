//! STS sessions through the real front door: a session's credentials work until they
//! expire, then every call is `ExpiredToken`; a wrong token is refused.

use axum::body::Body;
use flotilla_core::{AccountContext, Timestamp};
use flotilla_iam::access::Access;
use flotilla_iam::model::Session;
use flotilla_iam::{IamService, IamStore, RootCredentials, StsService};
use flotilla_protocol::{FrontDoor, FrontDoorConfig};
use flotilla_sigv4::{Credentials, Payload, SignableRequest, SigningParams, sign};
use http::{HeaderValue, Request};
use std::sync::Arc;
use std::time::SystemTime;
use tower::ServiceExt;

async fn front_door(location: &flotilla_db::StoreLocation) -> (axum::Router, Arc<Access>) {
    let access = Arc::new(Access::new(
        IamStore::open(location, flotilla_seal::Sealer::from_key([7; 32])).await.unwrap(),
        AccountContext::default(),
        RootCredentials { access_key_id: "ROOTKEY".into(), secret_access_key: "rootsecret".into() },
    ));
    let config = FrontDoorConfig {
        region: "us-east-1".into(),
        account_id: AccountContext::default().account_id,
        max_body_bytes: 1 << 20,
    };
    let door = FrontDoor::new(access.clone(), config)
        .with_authorizer(access.clone())
        .with_module(Arc::new(IamService::new(access.clone())))
        .with_module(Arc::new(StsService::new(access.clone())));
    (Arc::new(door).router(), access)
}

/// `Action=GetCallerIdentity` to STS signed with `creds`; the status and body.
async fn caller_identity(router: &axum::Router, creds: &Credentials) -> (u16, String) {
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let mut headers = http::HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost"));
    headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    let params = SigningParams { credentials: creds, region: "us-east-1", service: "sts", time: SystemTime::now() };
    let added = sign(&SignableRequest::new("POST", "/", "", &headers), Payload::Bytes(body), &params).unwrap();
    headers.extend(added);
    let mut request = Request::builder().method("POST").uri("/").body(Body::from(body.to_vec())).unwrap();
    *request.headers_mut() = headers;
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn session(id: &str, expires: Timestamp) -> Session {
    Session {
        access_key_id: id.into(),
        secret: "sessionsecret".into(),
        token: format!("token-of-{id}"),
        role_name: "r".into(),
        role_arn: "arn:aws:iam::000000000000:role/r".into(),
        role_id: "AROAEXAMPLE".into(),
        session_name: "s".into(),
        expires,
        policy: None,
        source: "arn:aws:iam::000000000000:root".into(),
    }
}

#[tokio::test]
async fn session_credentials_work_until_they_expire() {
    for backend in flotilla_db::testing::backends() {
        let (router, access) = front_door(&backend.location).await;
        let live = session("ASIALIVE", Timestamp(Timestamp::now().0 + 900_000));
        let dead = session("ASIADEAD", Timestamp(Timestamp::now().0 - 1_000));
        access.put_session(&live).await.unwrap();
        access.put_session(&dead).await.unwrap();

        let creds = |s: &Session| {
            Credentials::new(s.access_key_id.clone(), s.secret.clone()).with_session_token(s.token.clone())
        };
        let (status, body) = caller_identity(&router, &creds(&live)).await;
        assert_eq!(status, 200, "{}: {body}", backend.label);
        assert!(body.contains("<Arn>arn:aws:sts::000000000000:assumed-role/r/s</Arn>"), "{body}");

        let (status, body) = caller_identity(&router, &creds(&dead)).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("<Code>ExpiredToken</Code>"), "{body}");

        let forged = Credentials::new("ASIALIVE", "sessionsecret").with_session_token("token-of-ASIADEAD");
        let (status, body) = caller_identity(&router, &forged).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("<Code>InvalidClientTokenId</Code>"), "{body}");

        let without = Credentials::new("ASIALIVE", "sessionsecret");
        let (status, _) = caller_identity(&router, &without).await;
        assert_eq!(status, 403);
    }
}
