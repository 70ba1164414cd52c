//! Server side: check that a request carries a valid SigV4 signature, either in the
//! `Authorization` header or as presigned query parameters, and say who signed it.
//!
//! Checks run in the order AWS runs them (as recorded from DynamoDB by dynalite), so the
//! first problem reported is the one AWS would report: presence of the auth parameters,
//! date format, clock skew / expiry, `host` signed, algorithm, credential shape and scope,
//! access key, session token, and finally the signature itself (compared in constant
//! time) and the body against a claimed `x-amz-content-sha256`.

use std::time::SystemTime;

use http::header::AUTHORIZATION;

use crate::SignableRequest;
use crate::canonical::{self, ALGORITHM, UNSIGNED_PAYLOAD};
use crate::credentials::CredentialStore;
use crate::encode;
use crate::error::SigV4Error;
use crate::time::AmzDate;

/// How far (in seconds) a header-signed request's `X-Amz-Date` may be from the server
/// clock, either way: 5 minutes, as the AWS JSON services enforce.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The longest a presigned URL may live: 7 days.
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;

/// Who signed a request that verified. `Debug` redacts the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// The region from the credential scope (not checked against anything here).
    pub region: String,
    /// The service from the credential scope (not checked against anything here).
    pub service: String,
    /// `YYYYMMDD` from the credential scope.
    pub date: String,
    /// `X-Amz-Date` of the request.
    pub request_time: SystemTime,
    /// The session token presented (`X-Amz-Security-Token`), already accepted by the
    /// credential store.
    pub session_token: Option<String>,
    /// The headers the signature covers, lower-case.
    pub signed_headers: Vec<String>,
    /// Whether the signature covers the hash of the body given to [`verify`] (false
    /// when it was signed over `UNSIGNED-PAYLOAD`, or no body was given).
    pub body_signed: bool,
    /// Whether the signature came from presigned query parameters.
    pub presigned: bool,
}

impl std::fmt::Debug for VerifiedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedIdentity")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("date", &self.date)
            .field("request_time", &self.request_time)
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("presigned", &self.presigned)
            .finish()
    }
}

/// What the request says about its signature, from the header or the query.
struct Claimed {
    algorithm: String,
    credential: String,
    signed_headers: String,
    signature: String,
    amz_date: String,
    expires: Option<i64>,
    session_token: Option<String>,
    presigned: bool,
}

const HOST_NOT_SIGNED: &str = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";

/// Verifies the SigV4 signature of a request.
///
/// * `req`: method, raw path and raw query exactly as received, and the headers (which
///   must include `host`; for HTTP/2 copy `:authority` into it first).
/// * `body`: the request body when the caller has it. With an `x-amz-content-sha256`
///   header the claimed hash is signed over and, when `body` is given, checked against it
///   (except `UNSIGNED-PAYLOAD`); without the header the body is hashed, so `None` is then
///   refused with [`SigV4Error::PayloadHashUnknown`]. Presigned URLs are accepted signed
///   over `UNSIGNED-PAYLOAD` or over the body's hash (botocore does the latter).
/// * `store`: where the secret for the access key id is found.
/// * `now`: the server clock.
pub fn verify<S: CredentialStore + ?Sized>(
    req: &SignableRequest<'_>,
    body: Option<&[u8]>,
    store: &S,
    now: SystemTime,
) -> Result<VerifiedIdentity, SigV4Error> {
    let query = encode::parse_query(req.query);
    let query_param = |name: &str| -> Option<String> {
        query
            .iter()
            .find(|(n, _)| n.as_slice() == name.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    let header = |name: &str| -> Option<String> {
        req.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };

    let auth_header = header(AUTHORIZATION.as_str());
    let query_auth = query_param("X-Amz-Algorithm").is_some();
    let claimed = match (auth_header, query_auth) {
        (Some(_), true) => {
            return Err(SigV4Error::invalid(
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
            ));
        }
        (None, true) => from_query(&query_param)?,
        (Some(h), false) if h.trim_start().starts_with("AWS4-") => from_header(&h, &header)?,
        _ => return Err(SigV4Error::MissingAuthenticationToken),
    };

    // Date format, then skew or expiry.
    let request_time = AmzDate::parse(&claimed.amz_date).ok_or_else(|| {
        SigV4Error::incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            claimed.amz_date
        ))
    })?;
    let now = AmzDate::from_system_time(now);
    let latest = now.offset(MAX_CLOCK_SKEW_SECS);
    if request_time > latest {
        return Err(SigV4Error::SignatureNotYetCurrent {
            request_time: request_time.format(),
            latest: latest.format(),
            now: now.format(),
        });
    }
    match claimed.expires {
        None => {
            let earliest = now.offset(-MAX_CLOCK_SKEW_SECS);
            if request_time < earliest {
                return Err(SigV4Error::SignatureExpired {
                    request_time: request_time.format(),
                    earliest: earliest.format(),
                    now: now.format(),
                });
            }
        }
        Some(expires) => {
            let expired_at = request_time.offset(expires);
            if now > expired_at {
                return Err(SigV4Error::PresignedUrlExpired { expired_at: expired_at.format(), now: now.format() });
            }
        }
    }

    // Signed headers must include host.
    let signed_headers: Vec<String> =
        claimed.signed_headers.split(';').map(|h| h.trim().to_ascii_lowercase()).collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::invalid(HOST_NOT_SIGNED));
    }

    if claimed.algorithm != ALGORITHM {
        return Err(SigV4Error::incomplete(format!(
            "Unsupported AWS 'algorithm': '{}' (only AWS4-HMAC-SHA256 for now).",
            claimed.algorithm
        )));
    }

    // Credential: keyid/date/region/service/aws4_request (trailing slashes ignored).
    let credential = claimed.credential.trim_end_matches('/');
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(SigV4Error::incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    let mut scope_problems = Vec::new();
    if region.is_empty() {
        scope_problems.push(format!("Credential should be scoped to a valid region, not '{region}'."));
    }
    if service.is_empty() {
        scope_problems.push(format!("Credential should be scoped to correct service, not '{service}'."));
    }
    if *terminator != "aws4_request" {
        scope_problems
            .push(format!("Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."));
    }
    let date_stamp = request_time.date_stamp();
    if *date != date_stamp {
        scope_problems.push(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{date_stamp}', from '{}'.",
            claimed.amz_date
        ));
    }
    if !scope_problems.is_empty() {
        return Err(SigV4Error::invalid(scope_problems.join(" ")));
    }

    // Who is it?
    let secret = store
        .secret_for(access_key_id)
        .ok_or_else(|| SigV4Error::UnrecognizedClient { access_key_id: (*access_key_id).to_owned() })?;
    if !store.session_token_valid(access_key_id, claimed.session_token.as_deref()) {
        return Err(SigV4Error::InvalidSecurityToken { access_key_id: (*access_key_id).to_owned() });
    }

    // Which payload hash(es) the client may have signed over.
    let claimed_hash = if claimed.presigned {
        query_param("X-Amz-Content-Sha256").or_else(|| header("x-amz-content-sha256"))
    } else {
        header("x-amz-content-sha256")
    };
    let body_hash = body.map(canonical::sha256_hex);
    let candidates: Vec<String> = match (&claimed_hash, &body_hash, claimed.presigned) {
        (Some(c), _, _) => vec![c.clone()],
        (None, Some(b), false) => vec![b.clone()],
        (None, None, false) => return Err(SigV4Error::PayloadHashUnknown),
        (None, Some(b), true) => vec![UNSIGNED_PAYLOAD.to_owned(), b.clone()],
        (None, None, true) => vec![UNSIGNED_PAYLOAD.to_owned()],
    };

    let key = canonical::signing_key(&secret, date, region, service);
    let scope = canonical::credential_scope(date, region, service);
    let signed: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    let exclude = claimed.presigned.then_some("X-Amz-Signature");
    let mut first_attempt = None;
    let mut matched = None;
    for payload_hash in &candidates {
        let cr = canonical::canonical_request(req, exclude, &[], &signed, payload_hash);
        let sts = canonical::string_to_sign(&claimed.amz_date, &scope, &cr);
        let expected = canonical::signature(&key, &sts);
        if canonical::constant_time_eq(expected.as_bytes(), claimed.signature.as_bytes()) {
            matched = Some(payload_hash.clone());
            break;
        }
        first_attempt.get_or_insert_with(|| (redact_session_token(&cr), sts));
    }
    let Some(matched) = matched else {
        let (canonical_request, string_to_sign) = first_attempt.unwrap_or_default();
        return Err(SigV4Error::SignatureMismatch { canonical_request, string_to_sign });
    };
    let body_signed = body_hash.as_ref().is_some_and(|b| *b == matched);

    // The signature covers the claimed hash; make sure the body is what was claimed.
    if let (Some(claimed), Some(computed)) = (claimed_hash, body_hash)
        && claimed != UNSIGNED_PAYLOAD
        && claimed != computed
    {
        return Err(SigV4Error::ContentSha256Mismatch { claimed, computed });
    }

    Ok(VerifiedIdentity {
        access_key_id: (*access_key_id).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        date: (*date).to_owned(),
        request_time: request_time.to_system_time(),
        session_token: claimed.session_token,
        signed_headers,
        body_signed,
        presigned: claimed.presigned,
    })
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
fn from_header(text: &str, header: &dyn Fn(&str) -> Option<String>) -> Result<Claimed, SigV4Error> {
    let trimmed = text.trim();
    let (algorithm, rest) = trimmed.split_once(|c: char| c.is_ascii_whitespace()).unwrap_or((trimmed, ""));
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for piece in rest.split(|c: char| c == ',' || c.is_ascii_whitespace()).filter(|p| !p.is_empty()) {
        let Some((name, value)) = piece.split_once('=') else {
            return Err(SigV4Error::incomplete(format!(
                "'{piece}' not a valid key=value pair (missing equal-sign) in Authorization header: '{text}'."
            )));
        };
        match name {
            "Credential" => credential = Some(value.to_owned()),
            "SignedHeaders" => signed_headers = Some(value.to_owned()),
            "Signature" => signature = Some(value.to_owned()),
            _ => {}
        }
    }
    let amz_date = header("x-amz-date");
    let mut message = String::new();
    for (name, value) in [("Credential", &credential), ("Signature", &signature), ("SignedHeaders", &signed_headers)] {
        if value.as_deref().is_none_or(str::is_empty) {
            message.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    if amz_date.is_none() {
        // A `Date` header is not accepted in its place (yet), so say the same thing.
        message.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    if !message.is_empty() {
        message.push_str("Authorization=");
        message.push_str(text);
        return Err(SigV4Error::incomplete(message));
    }
    Ok(Claimed {
        algorithm: algorithm.to_owned(),
        credential: credential.unwrap_or_default(),
        signed_headers: signed_headers.unwrap_or_default(),
        signature: signature.unwrap_or_default(),
        amz_date: amz_date.unwrap_or_default(),
        expires: None,
        session_token: header("x-amz-security-token"),
        presigned: false,
    })
}

/// Reads the `X-Amz-*` presigning parameters.
fn from_query(param: &dyn Fn(&str) -> Option<String>) -> Result<Claimed, SigV4Error> {
    let mut message = String::new();
    for name in
        ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date", "X-Amz-Expires"]
    {
        if param(name).is_none_or(|v| v.is_empty()) {
            message.push_str(&format!("AWS query-string parameters must include '{name}'. "));
        }
    }
    if !message.is_empty() {
        message.push_str("Re-examine the query-string parameters.");
        return Err(SigV4Error::incomplete(message));
    }
    let expires_text = param("X-Amz-Expires").unwrap_or_default();
    let expires: u64 = expires_text.parse().map_err(|_| SigV4Error::incomplete("X-Amz-Expires should be a number"))?;
    if expires == 0 {
        return Err(SigV4Error::incomplete("X-Amz-Expires must be greater than 0"));
    }
    if expires > MAX_PRESIGN_EXPIRES_SECS {
        return Err(SigV4Error::incomplete(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
        ));
    }
    Ok(Claimed {
        algorithm: param("X-Amz-Algorithm").unwrap_or_default(),
        credential: param("X-Amz-Credential").unwrap_or_default(),
        signed_headers: param("X-Amz-SignedHeaders").unwrap_or_default(),
        signature: param("X-Amz-Signature").unwrap_or_default(),
        amz_date: param("X-Amz-Date").unwrap_or_default(),
        // At most 604800, so the conversion cannot fail.
        expires: Some(i64::try_from(expires).unwrap_or(i64::MAX)),
        session_token: param("X-Amz-Security-Token"),
        presigned: true,
    })
}

/// The canonical request with the session token (a credential) blanked out, for the
/// mismatch error that servers may log.
fn redact_session_token(canonical_request: &str) -> String {
    let mut lines: Vec<String> = canonical_request.split('\n').map(str::to_owned).collect();
    if let Some(query) = lines.get_mut(2) {
        *query = query
            .split('&')
            .map(|p| if p.starts_with("X-Amz-Security-Token=") { "X-Amz-Security-Token=<redacted>" } else { p })
            .collect::<Vec<_>>()
            .join("&");
    }
    for line in lines.iter_mut().skip(3) {
        if line.starts_with("x-amz-security-token:") {
            *line = "x-amz-security-token:<redacted>".to_owned();
        }
    }
    lines.join("\n")
}
