//! Cross-check against botocore: `tests/vectors/botocore_vectors.json` was produced by
//! `tests/vectors/generate.py` with botocore's `SigV4Auth` / `SigV4QueryAuth` and a frozen
//! clock. Every vector must verify, every tampered copy must be refused, and our signer
//! must reproduce botocore's `Authorization` header / presigned query exactly.

use std::time::{Duration, SystemTime};

use flotilla_sigv4::{
    AmzDate, Credentials, Payload, SigV4Error, SignableRequest, SigningParams, presign, sign, verify,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

struct Vector {
    json: Value,
    headers: HeaderMap,
    headers_before: HeaderMap,
    body: Vec<u8>,
}

impl Vector {
    fn s(&self, key: &str) -> &str {
        self.json[key].as_str().unwrap_or_else(|| panic!("vector field {key}"))
    }
    fn name(&self) -> &str {
        self.s("name")
    }
    fn presigned(&self) -> bool {
        self.s("kind") == "presigned"
    }
    fn credentials(&self, file: &Value) -> Credentials {
        let c = Credentials::new(file["access_key_id"].as_str().unwrap(), file["secret_access_key"].as_str().unwrap());
        match self.json["session_token"].as_str() {
            Some(t) => c.with_session_token(t),
            None => c,
        }
    }
    fn request(&self) -> SignableRequest<'_> {
        SignableRequest::new(self.s("method"), self.s("path"), self.s("query"), &self.headers)
    }
}

fn header_map(list: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for pair in list.as_array().unwrap() {
        let name = HeaderName::from_bytes(pair[0].as_str().unwrap().to_ascii_lowercase().as_bytes()).unwrap();
        map.append(name, HeaderValue::from_str(pair[1].as_str().unwrap()).unwrap());
    }
    map
}

fn decode_base64(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = alphabet.iter().position(|&a| a == c).expect("base64 digit") as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn load() -> (Value, Vec<Vector>, SystemTime) {
    let text = include_str!("vectors/botocore_vectors.json");
    let file: Value = serde_json::from_str(text).expect("vectors json parses");
    let signed_at = AmzDate::parse(file["signed_at"].as_str().unwrap()).unwrap().to_system_time();
    let vectors = file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            headers: header_map(&v["headers"]),
            headers_before: header_map(&v["headers_before_signing"]),
            body: decode_base64(v["body_base64"].as_str().unwrap()),
            json: v.clone(),
        })
        .collect();
    (file, vectors, signed_at)
}

#[test]
fn there_are_enough_vectors() {
    let (_, vectors, _) = load();
    assert!(vectors.len() >= 30, "{}", vectors.len());
    assert!(vectors.iter().filter(|v| v.presigned()).count() >= 5);
}

#[test]
fn every_botocore_vector_verifies() {
    let (file, vectors, signed_at) = load();
    for v in &vectors {
        let creds = v.credentials(&file);
        let now = signed_at + Duration::from_secs(10);
        let who =
            verify(&v.request(), Some(&v.body), &creds, now).unwrap_or_else(|e| panic!("{}: {e} ({e:?})", v.name()));
        assert_eq!(who.access_key_id, "AKIDEXAMPLE", "{}", v.name());
        assert_eq!(who.region, v.s("region"), "{}", v.name());
        assert_eq!(who.service, v.s("service"), "{}", v.name());
        assert_eq!(who.date, "20261122", "{}", v.name());
        assert_eq!(who.request_time, signed_at, "{}", v.name());
        assert_eq!(who.presigned, v.presigned(), "{}", v.name());
        assert_eq!(who.session_token.as_deref(), v.json["session_token"].as_str(), "{}", v.name());
    }
}

/// Flips the last hex digit of the signature wherever it is.
fn tamper_signature(text: &str) -> String {
    let mut s = text.to_owned();
    let last = s.pop().unwrap();
    s.push(if last == '0' { '1' } else { '0' });
    s
}

fn expect_mismatch(result: Result<flotilla_sigv4::VerifiedIdentity, SigV4Error>, what: &str) {
    match result {
        Err(e @ SigV4Error::SignatureMismatch { .. }) => {
            assert_eq!(e.code(), "InvalidSignatureException");
            assert_eq!(e.http_status(), 400);
        }
        other => panic!("{what}: expected a signature mismatch, got {other:?}"),
    }
}

#[test]
fn every_tampered_vector_is_refused() {
    let (file, vectors, signed_at) = load();
    let now = signed_at + Duration::from_secs(10);
    for v in &vectors {
        let creds = v.credentials(&file);
        let name = v.name();

        // 1. Signature altered.
        if v.presigned() {
            let query = tamper_signature(v.s("query"));
            let req = SignableRequest::new(v.s("method"), v.s("path"), &query, &v.headers);
            expect_mismatch(verify(&req, Some(&v.body), &creds, now), name);
        } else {
            let mut headers = v.headers.clone();
            let auth = tamper_signature(headers["authorization"].to_str().unwrap());
            headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
            let req = SignableRequest::new(v.s("method"), v.s("path"), v.s("query"), &headers);
            expect_mismatch(verify(&req, Some(&v.body), &creds, now), name);
        }

        // 2. Method changed.
        let method = if v.s("method") == "GET" { "HEAD" } else { "GET" };
        let req = SignableRequest::new(method, v.s("path"), v.s("query"), &v.headers);
        expect_mismatch(verify(&req, Some(&v.body), &creds, now), name);

        // 3. Path changed.
        let path = format!("{}x", v.s("path"));
        let req = SignableRequest::new(v.s("method"), &path, v.s("query"), &v.headers);
        expect_mismatch(verify(&req, Some(&v.body), &creds, now), name);

        // 4. A query parameter added.
        let query =
            if v.s("query").is_empty() { "injected=1".to_owned() } else { format!("injected=1&{}", v.s("query")) };
        let req = SignableRequest::new(v.s("method"), v.s("path"), &query, &v.headers);
        expect_mismatch(verify(&req, Some(&v.body), &creds, now), name);

        // 5. The host header changed (host is always signed).
        let mut headers = v.headers.clone();
        headers.insert("host", HeaderValue::from_static("evil.example:4566"));
        let req = SignableRequest::new(v.s("method"), v.s("path"), v.s("query"), &headers);
        expect_mismatch(verify(&req, Some(&v.body), &creds, now), name);

        // 6. The body changed (header-signed requests sign the body's hash).
        if !v.presigned() {
            let mut body = v.body.clone();
            body.push(b' ');
            expect_mismatch(verify(&v.request(), Some(&body), &creds, now), name);
        }

        // 7. A different secret.
        let other = Credentials { secret_access_key: "not-the-secret".into(), ..creds.clone() };
        expect_mismatch(verify(&v.request(), Some(&v.body), &other, now), name);
    }
}

#[test]
fn sign_reproduces_botocore_authorization() {
    let (file, vectors, signed_at) = load();
    for v in vectors.iter().filter(|v| !v.presigned()) {
        let creds = v.credentials(&file);
        let params =
            SigningParams { credentials: &creds, region: v.s("region"), service: v.s("service"), time: signed_at };
        let req = SignableRequest::new(v.s("method"), v.s("path"), v.s("query"), &v.headers_before);
        let added = sign(&req, Payload::Bytes(&v.body), &params).unwrap_or_else(|e| panic!("{}: {e}", v.name()));
        assert_eq!(added["authorization"].to_str().unwrap(), v.s("authorization"), "{}", v.name());
        assert_eq!(added["x-amz-date"], "20261122T041530Z", "{}", v.name());
        assert_eq!(
            added.get("x-amz-security-token").map(|t| t.to_str().unwrap()),
            v.json["session_token"].as_str(),
            "{}",
            v.name()
        );
        assert!(added.get("x-amz-content-sha256").is_none(), "{}", v.name());
    }
}

#[test]
fn presign_reproduces_botocore_query() {
    let (file, vectors, signed_at) = load();
    for v in vectors.iter().filter(|v| v.presigned()) {
        let creds = v.credentials(&file);
        let params =
            SigningParams { credentials: &creds, region: v.s("region"), service: v.s("service"), time: signed_at };
        let req = SignableRequest::new(v.s("method"), v.s("path"), v.s("query_before_signing"), &v.headers_before);
        let expires = Duration::from_secs(v.json["expires"].as_u64().unwrap());
        // botocore signs presigned non-S3 requests over the (empty) body's hash when the
        // endpoint is plain http.
        let query =
            presign(&req, Payload::Bytes(b""), &params, expires).unwrap_or_else(|e| panic!("{}: {e}", v.name()));
        assert_eq!(query, v.s("query"), "{}", v.name());
    }
}
