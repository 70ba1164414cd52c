//! Every way a request is refused, with the AWS code, status and message the client sees.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use flotilla_sigv4::canonical::sha256_hex;
use flotilla_sigv4::{
    AmzDate, Credentials, Payload, SecretKey, SigV4Error, SignError, SignableRequest, SigningParams, VerifiedIdentity,
    presign, sign, verify,
};
use http::{HeaderMap, HeaderValue};

const BODY: &[u8] = br#"{"cluster":"default"}"#;

fn root() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
}

fn signed_at() -> SystemTime {
    AmzDate::parse("20261122T041530Z").unwrap().to_system_time()
}

fn base_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
    h.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    h.insert("x-amz-target", HeaderValue::from_static("AmazonEC2ContainerServiceV20141113.ListTasks"));
    h
}

fn params(creds: &Credentials) -> SigningParams<'_> {
    SigningParams { credentials: creds, region: "us-east-1", service: "ecs", time: signed_at() }
}

/// A correctly signed POST.
fn signed_headers_with(creds: &Credentials, payload: Payload<'_>) -> HeaderMap {
    let mut headers = base_headers();
    let added = sign(&SignableRequest::new("POST", "/", "", &headers), payload, &params(creds)).unwrap();
    headers.extend(added);
    headers
}

fn signed_headers() -> HeaderMap {
    signed_headers_with(&root(), Payload::Bytes(BODY))
}

fn check(headers: &HeaderMap, body: Option<&[u8]>, now: SystemTime) -> Result<VerifiedIdentity, SigV4Error> {
    verify(&SignableRequest::new("POST", "/", "", headers), body, &root(), now)
}

fn at(offset_secs: i64) -> SystemTime {
    AmzDate::from_system_time(signed_at()).offset(offset_secs).to_system_time()
}

fn assert_refused(result: Result<VerifiedIdentity, SigV4Error>, code: &str, message: &str) {
    let err = result.expect_err("request should be refused");
    assert_eq!(err.code(), code, "{err:?}");
    assert_eq!(err.http_status(), 400, "{err:?}");
    assert_eq!(err.to_string(), message, "{err:?}");
    assert_eq!(err.message(), message);
}

fn with_auth(auth: &str) -> HeaderMap {
    let mut h = base_headers();
    h.insert("x-amz-date", HeaderValue::from_static("20261122T041530Z"));
    h.insert("authorization", HeaderValue::from_str(auth).unwrap());
    h
}

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

#[test]
fn a_correctly_signed_request_verifies() {
    let who = check(&signed_headers(), Some(BODY), at(1)).unwrap();
    assert_eq!(who.access_key_id, "AKIDEXAMPLE");
    assert_eq!(who.region, "us-east-1");
    assert_eq!(who.service, "ecs");
    assert_eq!(who.date, "20261122");
    assert_eq!(who.request_time, signed_at());
    assert_eq!(who.session_token, None);
    assert!(!who.presigned);
}

#[test]
fn missing_authentication() {
    let msg = "Missing Authentication Token";
    let code = "MissingAuthenticationTokenException";
    assert_refused(check(&base_headers(), Some(BODY), at(0)), code, msg);
    assert_refused(check(&with_auth("Bearer abc.def"), Some(BODY), at(0)), code, msg);
    assert_refused(check(&with_auth("AWS AKID:sig"), Some(BODY), at(0)), code, msg);
}

#[test]
fn unknown_access_key() {
    let stranger = Credentials::new("AKIDSTRANGER", "whatever");
    let headers = signed_headers_with(&stranger, Payload::Bytes(BODY));
    let result = check(&headers, Some(BODY), at(0));
    assert!(
        matches!(&result, Err(SigV4Error::UnrecognizedClient { access_key_id }) if access_key_id == "AKIDSTRANGER")
    );
    assert_refused(result, "UnrecognizedClientException", "The security token included in the request is invalid.");
}

#[test]
fn empty_store_knows_nobody() {
    let store: HashMap<String, SecretKey> = HashMap::new();
    let headers = signed_headers();
    let err = verify(&SignableRequest::new("POST", "/", "", &headers), Some(BODY), &store, at(0)).unwrap_err();
    assert_eq!(err.code(), "UnrecognizedClientException");
    let mut store = store;
    store.insert("AKIDEXAMPLE".into(), root().secret_access_key);
    verify(&SignableRequest::new("POST", "/", "", &headers), Some(BODY), &store, at(0)).unwrap();
}

#[test]
fn bad_signature() {
    let mut headers = signed_headers();
    let auth = headers["authorization"].to_str().unwrap().replace("Signature=", "Signature=0");
    let auth = &auth[..auth.len() - 1];
    headers.insert("authorization", HeaderValue::from_str(auth).unwrap());
    let result = check(&headers, Some(BODY), at(0));
    match &result {
        Err(SigV4Error::SignatureMismatch { canonical_request, string_to_sign }) => {
            assert!(canonical_request.starts_with("POST\n/\n\n"), "{canonical_request}");
            assert!(string_to_sign.starts_with("AWS4-HMAC-SHA256\n20261122T041530Z\n"));
        }
        other => panic!("{other:?}"),
    }
    assert_refused(result, "InvalidSignatureException", SIGNATURE_MISMATCH);

    // A signed header changed after signing.
    let mut headers = signed_headers();
    headers.insert("x-amz-target", HeaderValue::from_static("AmazonEC2ContainerServiceV20141113.DeleteCluster"));
    assert_refused(check(&headers, Some(BODY), at(0)), "InvalidSignatureException", SIGNATURE_MISMATCH);
}

#[test]
fn clock_skew_limits_are_five_minutes_either_way() {
    let headers = signed_headers();
    check(&headers, Some(BODY), at(300)).unwrap();
    check(&headers, Some(BODY), at(-300)).unwrap();
    assert_refused(
        check(&headers, Some(BODY), at(301)),
        "InvalidSignatureException",
        "Signature expired: 20261122T041530Z is now earlier than 20261122T041531Z (20261122T042031Z - 5 min.)",
    );
    assert_refused(
        check(&headers, Some(BODY), at(-301)),
        "InvalidSignatureException",
        "Signature not yet current: 20261122T041530Z is still later than 20261122T041529Z (20261122T041029Z + 5 min.)",
    );
    // An hour off.
    assert!(matches!(check(&headers, Some(BODY), at(3600)), Err(SigV4Error::SignatureExpired { .. })));
}

fn presigned_query(expires: u64) -> String {
    let creds = root();
    let headers = base_headers();
    presign(
        &SignableRequest::new("GET", "/", "Action=ListClusters", &headers),
        Payload::Unsigned,
        &params(&creds),
        Duration::from_secs(expires),
    )
    .unwrap()
}

fn check_get(query: &str, now: SystemTime) -> Result<VerifiedIdentity, SigV4Error> {
    let headers = base_headers();
    verify(&SignableRequest::new("GET", "/", query, &headers), Some(b""), &root(), now)
}

#[test]
fn presigned_url_works_until_it_expires() {
    let query = presigned_query(900);
    assert!(query.starts_with("Action=ListClusters&X-Amz-Algorithm=AWS4-HMAC-SHA256&"));
    let who = check_get(&query, at(900)).unwrap();
    assert!(who.presigned);
    // Presigned URLs are not subject to the 5-minute skew in the past ...
    check_get(&query, at(600)).unwrap();
    // ... but are refused once X-Amz-Date + X-Amz-Expires has passed.
    let result = check_get(&query, at(901));
    assert!(
        matches!(&result, Err(SigV4Error::PresignedUrlExpired { expired_at, .. }) if expired_at == "20261122T043030Z")
    );
    assert_refused(result, "RequestExpired", "Request has expired");
    // Dated too far in the future.
    assert!(matches!(check_get(&query, at(-301)), Err(SigV4Error::SignatureNotYetCurrent { .. })));
    // Tampered.
    let tampered = query.replace("ListClusters", "DeleteCluster");
    assert_refused(check_get(&tampered, at(0)), "InvalidSignatureException", SIGNATURE_MISMATCH);
}

#[test]
fn presigned_expiry_must_be_one_second_to_a_week() {
    let good = presigned_query(60);
    for (bad, message) in [
        ("0", "X-Amz-Expires must be greater than 0"),
        (
            "604801",
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
        ),
        ("soon", "X-Amz-Expires should be a number"),
        ("-5", "X-Amz-Expires should be a number"),
    ] {
        let query = good.replace("X-Amz-Expires=60", &format!("X-Amz-Expires={bad}"));
        assert_refused(check_get(&query, at(0)), "IncompleteSignatureException", message);
    }
    let creds = root();
    let headers = base_headers();
    for seconds in [0, 604_801] {
        let err = presign(
            &SignableRequest::new("GET", "/", "", &headers),
            Payload::Unsigned,
            &params(&creds),
            Duration::from_secs(seconds),
        )
        .unwrap_err();
        assert!(matches!(err, SignError::ExpiresOutOfRange { .. }), "{err}");
    }
    presign(
        &SignableRequest::new("GET", "/", "", &headers),
        Payload::Unsigned,
        &params(&creds),
        Duration::from_secs(604_800),
    )
    .unwrap();
}

#[test]
fn presigned_query_missing_parameters() {
    let query = presigned_query(60);
    let without: Vec<&str> =
        query.split('&').filter(|p| !p.starts_with("X-Amz-Signature=") && !p.starts_with("X-Amz-Date=")).collect();
    assert_refused(
        check_get(&without.join("&"), at(0)),
        "IncompleteSignatureException",
        "AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters.",
    );
}

#[test]
fn header_and_query_authentication_together() {
    let query = presigned_query(60);
    let headers = signed_headers();
    let result = verify(&SignableRequest::new("GET", "/", &query, &headers), Some(b""), &root(), at(0));
    assert_refused(
        result,
        "InvalidSignatureException",
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    );
}

#[test]
fn malformed_authorization_header() {
    let code = "IncompleteSignatureException";
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /20261122/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
    assert_refused(
        check(&with_auth(auth), Some(BODY), at(0)),
        code,
        &format!(
            "'/20261122/us-east-1/ecs/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: '{auth}'."
        ),
    );

    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request";
    assert_refused(
        check(&with_auth(auth), Some(BODY), at(0)),
        code,
        &format!(
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization={auth}"
        ),
    );

    let mut headers = with_auth(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=abc",
    );
    headers.remove("x-amz-date");
    assert_refused(
        check(&headers, Some(BODY), at(0)),
        code,
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=abc",
    );

    let mut headers = with_auth(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=abc",
    );
    headers.insert("x-amz-date", HeaderValue::from_static("2026-11-22T04:15:30Z"));
    assert_refused(
        check(&headers, Some(BODY), at(0)),
        code,
        "Date must be in ISO-8601 'basic format'. Got '2026-11-22T04:15:30Z'. See http://en.wikipedia.org/wiki/ISO_8601",
    );

    let auth = "AWS4-HMAC-SHA512 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=abc";
    assert_refused(
        check(&with_auth(auth), Some(BODY), at(0)),
        code,
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now).",
    );

    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs, SignedHeaders=host, Signature=abc";
    assert_refused(
        check(&with_auth(auth), Some(BODY), at(0)),
        code,
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20261122/us-east-1/ecs'",
    );
}

#[test]
fn credential_scope_must_match() {
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/ecs/aws5_request, SignedHeaders=host;x-amz-date, Signature=abc";
    assert_refused(
        check(&with_auth(auth), Some(BODY), at(0)),
        "InvalidSignatureException",
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261121' != '20261122', from '20261122T041530Z'.",
    );
}

#[test]
fn host_must_be_signed() {
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request, SignedHeaders=content-type;x-amz-date, Signature=abc";
    assert_refused(
        check(&with_auth(auth), Some(BODY), at(0)),
        "InvalidSignatureException",
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
    let query = presigned_query(60)
        .replace("X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-target", "X-Amz-SignedHeaders=content-type");
    assert!(matches!(check_get(&query, at(0)), Err(SigV4Error::InvalidSignature { .. })));
}

#[test]
fn session_tokens_must_match_the_store() {
    let temporary = root().with_session_token("session-token-1");
    let headers = signed_headers_with(&temporary, Payload::Bytes(BODY));
    // The root store has no session token: a token is refused.
    assert_refused(
        check(&headers, Some(BODY), at(0)),
        "UnrecognizedClientException",
        "The security token included in the request is invalid",
    );
    // A store that expects it accepts it and reports it.
    let who = verify(&SignableRequest::new("POST", "/", "", &headers), Some(BODY), &temporary, at(0)).unwrap();
    assert_eq!(who.session_token.as_deref(), Some("session-token-1"));
    // A store that expects a token refuses a request without it.
    let plain = signed_headers();
    let err = verify(&SignableRequest::new("POST", "/", "", &plain), Some(BODY), &temporary, at(0)).unwrap_err();
    assert!(matches!(err, SigV4Error::InvalidSecurityToken { .. }));
}

#[test]
fn content_sha256_header_is_trusted_and_checked() {
    // Signed over the claimed hash: no body needed to verify ...
    let hash = sha256_hex(BODY);
    let headers = signed_headers_with(&root(), Payload::Precomputed(&hash));
    assert_eq!(headers["x-amz-content-sha256"], hash.as_str());
    check(&headers, None, at(0)).unwrap();
    check(&headers, Some(BODY), at(0)).unwrap();
    // ... but a body that does not match is refused.
    let result = check(&headers, Some(b"{}"), at(0));
    assert!(matches!(&result, Err(SigV4Error::ContentSha256Mismatch { claimed, .. }) if *claimed == hash));
    assert_refused(
        result,
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );

    // UNSIGNED-PAYLOAD: any body.
    let headers = signed_headers_with(&root(), Payload::Unsigned);
    assert_eq!(headers["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
    check(&headers, Some(b"anything"), at(0)).unwrap();
    check(&headers, None, at(0)).unwrap();

    // Without the header and without a body the hash cannot be known.
    let headers = signed_headers();
    let err = check(&headers, None, at(0)).unwrap_err();
    assert_eq!(err, SigV4Error::PayloadHashUnknown);
    assert_eq!(err.code(), "IncompleteSignatureException");
}

#[test]
fn signing_needs_a_host_header() {
    let creds = root();
    let mut headers = base_headers();
    headers.remove("host");
    let err =
        sign(&SignableRequest::new("POST", "/", "", &headers), Payload::Bytes(BODY), &params(&creds)).unwrap_err();
    assert_eq!(err.to_string(), "signing POST /: the request has no host header");
}

#[test]
fn errors_and_credentials_never_print_the_secret() {
    let creds = root();
    let mut headers = signed_headers();
    headers.insert("x-amz-target", HeaderValue::from_static("changed"));
    let err = check(&headers, Some(BODY), at(0)).unwrap_err();
    let shown = format!("{err} {err:?} {creds:?} {:?}", params(&creds));
    assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");

    // Session tokens are credentials too: not in the mismatch error nor the identity.
    let temporary = root().with_session_token("very-secret-session-token");
    let mut headers = signed_headers_with(&temporary, Payload::Bytes(BODY));
    let who = verify(&SignableRequest::new("POST", "/", "", &headers), Some(BODY), &temporary, at(0)).unwrap();
    headers.insert("x-amz-target", HeaderValue::from_static("changed"));
    let err = verify(&SignableRequest::new("POST", "/", "", &headers), Some(BODY), &temporary, at(0)).unwrap_err();
    let shown = format!("{err:?} {who:?} {temporary:?}");
    assert!(matches!(err, SigV4Error::SignatureMismatch { .. }));
    assert!(shown.contains("x-amz-security-token:<redacted>"), "{shown}");
    assert!(!shown.contains("very-secret-session-token"), "{shown}");

    let creds = root().with_session_token("very-secret-session-token");
    let headers = base_headers();
    let query = presign(
        &SignableRequest::new("GET", "/", "", &headers),
        Payload::Unsigned,
        &params(&creds),
        Duration::from_secs(60),
    )
    .unwrap();
    let query = query.replace("X-Amz-Expires=60", "X-Amz-Expires=61");
    let err = verify(&SignableRequest::new("GET", "/", &query, &headers), Some(b""), &creds, at(0)).unwrap_err();
    let shown = format!("{err:?}");
    assert!(shown.contains("X-Amz-Security-Token=<redacted>"), "{shown}");
    assert!(!shown.contains("very-secret-session-token"), "{shown}");
}
