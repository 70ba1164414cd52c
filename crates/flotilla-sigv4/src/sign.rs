//! Client side: sign a request (headers to add) or presign it (a query string), as the
//! Flotilla node agent does when it calls the control plane.
//!
//! Which headers are signed follows botocore: every header of the request except the
//! hop-by-hop ones and `user-agent`, `expect` and `x-amzn-trace-id`, plus the ones the
//! signer adds itself. `host` must already be in the request's headers.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::SignableRequest;
use crate::canonical::{self, ALGORITHM, UNSIGNED_PAYLOAD};
use crate::credentials::Credentials;
use crate::encode::uri_encode;
use crate::error::SignError;
use crate::time::AmzDate;
use crate::verify::MAX_PRESIGN_EXPIRES_SECS;

/// Headers never signed (they may change hop by hop or are added by HTTP stacks); the
/// list botocore uses, plus `authorization` itself.
const UNSIGNED_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// Who signs, for which region and service, and when.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// The signer's credentials (a session token, when present, is sent and signed).
    pub credentials: &'a Credentials,
    /// Region of the credential scope, e.g. `us-east-1`.
    pub region: &'a str,
    /// Service of the credential scope, e.g. `ecs`.
    pub service: &'a str,
    /// The signing time (`X-Amz-Date`).
    pub time: SystemTime,
}

/// What the signature says about the body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The body itself: its SHA-256 is signed.
    Bytes(&'a [u8]),
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// An already computed lower-case hex SHA-256 of the body.
    Precomputed(&'a str),
}

impl Payload<'_> {
    fn hash(&self) -> String {
        match self {
            Payload::Bytes(b) => canonical::sha256_hex(b),
            Payload::Unsigned => UNSIGNED_PAYLOAD.to_owned(),
            Payload::Precomputed(h) => (*h).to_owned(),
        }
    }
}

/// Signs `req` and returns the headers to add to it: `x-amz-date`, `x-amz-security-token`
/// (with temporary credentials), `x-amz-content-sha256` (only for [`Payload::Unsigned`]
/// and [`Payload::Precomputed`], so the server knows what was signed) and `authorization`.
/// Add them with `headers.extend(signed)`, which replaces any earlier values.
pub fn sign(
    req: &SignableRequest<'_>,
    payload: Payload<'_>,
    params: &SigningParams<'_>,
) -> Result<HeaderMap, SignError> {
    let time = AmzDate::from_system_time(params.time);
    let amz_date = time.format();
    let payload_hash = payload.hash();
    let mut added: Vec<(&'static str, String)> = vec![("x-amz-date", amz_date.clone())];
    if let Some(token) = &params.credentials.session_token {
        added.push(("x-amz-security-token", token.clone()));
    }
    if !matches!(payload, Payload::Bytes(_)) {
        added.push(("x-amz-content-sha256", payload_hash.clone()));
    }
    let extra: Vec<(&str, &str)> = added.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let names = headers_to_sign(req, &extra)?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();

    let scope = canonical::credential_scope(&time.date_stamp(), params.region, params.service);
    let cr = canonical::canonical_request(req, None, &extra, &names, &payload_hash);
    let sts = canonical::string_to_sign(&amz_date, &scope, &cr);
    let key = canonical::signing_key(
        &params.credentials.secret_access_key,
        &time.date_stamp(),
        params.region,
        params.service,
    );
    let signature = canonical::signature(&key, &sts);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        params.credentials.access_key_id,
        names.join(";")
    );

    let mut out = HeaderMap::new();
    for (name, value) in added.into_iter().chain(std::iter::once(("authorization", authorization))) {
        let what = match name {
            "x-amz-security-token" => "the session token",
            "authorization" => "the access key id, region or service",
            _ => "a computed value",
        };
        let value = HeaderValue::from_str(&value).map_err(|_| SignError::InvalidHeaderValue {
            method: req.method.to_owned(),
            path: req.path.to_owned(),
            what,
        })?;
        out.insert(HeaderName::from_static(name), value);
    }
    Ok(out)
}

/// Presigns `req` for `expires_in` (1 second to 7 days) and returns the query string to
/// send instead of `req.query` (without the leading `?`): the original parameters, then
/// the `X-Amz-*` ones, `X-Amz-Signature` last.
pub fn presign(
    req: &SignableRequest<'_>,
    payload: Payload<'_>,
    params: &SigningParams<'_>,
    expires_in: Duration,
) -> Result<String, SignError> {
    let seconds = expires_in.as_secs();
    if seconds == 0 || seconds > MAX_PRESIGN_EXPIRES_SECS {
        return Err(SignError::ExpiresOutOfRange { method: req.method.to_owned(), path: req.path.to_owned(), seconds });
    }
    let time = AmzDate::from_system_time(params.time);
    let amz_date = time.format();
    let scope = canonical::credential_scope(&time.date_stamp(), params.region, params.service);
    let names = headers_to_sign(req, &[])?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();

    let mut auth: Vec<(&str, String)> = vec![
        ("X-Amz-Algorithm", ALGORITHM.to_owned()),
        ("X-Amz-Credential", format!("{}/{scope}", params.credentials.access_key_id)),
        ("X-Amz-Date", amz_date.clone()),
        ("X-Amz-Expires", seconds.to_string()),
        ("X-Amz-SignedHeaders", names.join(";")),
    ];
    if let Some(token) = &params.credentials.session_token {
        auth.push(("X-Amz-Security-Token", token.clone()));
    }
    let mut query = req.query.to_owned();
    for (name, value) in &auth {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&uri_encode(value.as_bytes(), false));
    }

    let with_auth = SignableRequest { query: &query, ..*req };
    let cr = canonical::canonical_request(&with_auth, None, &[], &names, &payload.hash());
    let sts = canonical::string_to_sign(&amz_date, &scope, &cr);
    let key = canonical::signing_key(
        &params.credentials.secret_access_key,
        &time.date_stamp(),
        params.region,
        params.service,
    );
    query.push_str("&X-Amz-Signature=");
    query.push_str(&canonical::signature(&key, &sts));
    Ok(query)
}

/// Sorted, de-duplicated lower-case names of the headers to sign: those of `req` that
/// may be signed and are not overridden by `extra`, plus the names in `extra`.
fn headers_to_sign(req: &SignableRequest<'_>, extra: &[(&str, &str)]) -> Result<Vec<String>, SignError> {
    if !req.headers.contains_key(http::header::HOST) {
        return Err(SignError::MissingHost { method: req.method.to_owned(), path: req.path.to_owned() });
    }
    let mut names: Vec<String> = req
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| !UNSIGNED_HEADERS.contains(n))
        .chain(extra.iter().map(|(n, _)| *n))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}
