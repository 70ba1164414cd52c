//! The signing steps themselves: canonical request, string to sign, signing key and
//! signature, shared by the verifier and the signer.
//!
//! Reference: "Create a signed AWS API request" / "Elements of an AWS API request
//! signature" in the IAM user guide, and botocore's `SigV4Auth` (the client the
//! cross-check vectors come from).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::SignableRequest;
use crate::credentials::SecretKey;
use crate::encode;

/// The only algorithm supported.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash used by presigned URLs and by clients that do not hash the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The canonical form of one header's values: each value trimmed with inner runs of
/// whitespace collapsed to one space, several values joined by `,` in the order received.
pub fn canonical_header_value<'a>(values: impl Iterator<Item = &'a [u8]>) -> String {
    let mut out = String::new();
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let text = String::from_utf8_lossy(value);
        let mut first = true;
        for word in text.split(|c: char| c.is_ascii_whitespace() || c == '\x0b') {
            if word.is_empty() {
                continue;
            }
            if !first {
                out.push(' ');
            }
            out.push_str(word);
            first = false;
        }
    }
    out
}

/// The canonical request.
///
/// The path and query are taken raw from `req` and canonicalised here (see
/// [`crate::encode`]); `exclude_query_param` leaves one parameter out (the presigned
/// `X-Amz-Signature`). `signed_headers` are lower-case names in the order they are listed
/// in `SignedHeaders` (sorted, for any conforming client); each is looked up in
/// `req.headers` (a header that is
/// absent contributes an empty value, so the signature will not match). `extra_headers`
/// supplies values that are not in `headers` (the signer's `x-amz-date` etc.).
pub fn canonical_request(
    req: &SignableRequest<'_>,
    exclude_query_param: Option<&str>,
    extra_headers: &[(&str, &str)],
    signed_headers: &[&str],
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&encode::canonical_uri(req.path));
    out.push('\n');
    out.push_str(&encode::canonical_query(req.query, exclude_query_param));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        if let Some((_, v)) = extra_headers.iter().find(|(n, _)| n == name) {
            out.push_str(&canonical_header_value(std::iter::once(v.as_bytes())));
        } else {
            out.push_str(&canonical_header_value(req.headers.get_all(*name).iter().map(|v| v.as_bytes())));
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// `date/region/service/aws4_request`.
pub fn credential_scope(date_stamp: &str, region: &str, service: &str) -> String {
    format!("{date_stamp}/{region}/{service}/aws4_request")
}

/// The string to sign: algorithm, request time, scope and the hex SHA-256 of the
/// canonical request, one per line.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The signing key: `HMAC("AWS4" + secret, date)`, then region, service and
/// `aws4_request` in turn.
pub fn signing_key(secret: &SecretKey, date_stamp: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{}", secret.expose()).as_bytes(), date_stamp.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Lower-case hex `HMAC(signing_key, string_to_sign)`.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex(&hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // Keep the optimiser from short-circuiting the loop.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    //! The AWS documentation's worked examples, reproduced as facts: the IAM `ListUsers`
    //! GET (`iam.amazonaws.com`, 20150830T123600Z, secret
    //! `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`) and the SigV4 test suite's
    //! `get-vanilla` case (`example.amazonaws.com`, service `service`).
    use super::*;
    use http::{HeaderMap, HeaderValue};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn iam_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
        h.insert("host", HeaderValue::from_static("iam.amazonaws.com"));
        h.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        h
    }

    const IAM_CANONICAL: &str = "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
content-type:application/x-www-form-urlencoded; charset=utf-8\n\
host:iam.amazonaws.com\n\
x-amz-date:20150830T123600Z\n\n\
content-type;host;x-amz-date\n\
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn iam_list_users_canonical_request() {
        let headers = iam_headers();
        let req = SignableRequest::new("GET", "/", "Action=ListUsers&Version=2010-05-08", &headers);
        let cr = canonical_request(&req, None, &[], &["content-type", "host", "x-amz-date"], &sha256_hex(b""));
        assert_eq!(cr, IAM_CANONICAL);
        assert_eq!(sha256_hex(cr.as_bytes()), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    }

    #[test]
    fn iam_list_users_string_to_sign() {
        let sts = string_to_sign("20150830T123600Z", &credential_scope("20150830", "us-east-1", "iam"), IAM_CANONICAL);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n\
f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
    }

    #[test]
    fn iam_list_users_signing_key_and_signature() {
        let key = signing_key(&SecretKey::new(SECRET), "20150830", "us-east-1", "iam");
        assert_eq!(hex(&key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
        let sts = string_to_sign("20150830T123600Z", &credential_scope("20150830", "us-east-1", "iam"), IAM_CANONICAL);
        assert_eq!(signature(&key, &sts), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    }

    #[test]
    fn get_vanilla() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        h.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let cr = canonical_request(
            &SignableRequest::new("GET", "/", "", &h),
            None,
            &[],
            &["host", "x-amz-date"],
            EMPTY_SHA256,
        );
        assert_eq!(
            cr,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let scope = credential_scope("20150830", "us-east-1", "service");
        let sts = string_to_sign("20150830T123600Z", &scope, &cr);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        let key = signing_key(&SecretKey::new(SECRET), "20150830", "us-east-1", "service");
        assert_eq!(signature(&key, &sts), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let vals: [&[u8]; 2] = [b"  a   b \t c  ", b"d"];
        assert_eq!(canonical_header_value(vals.into_iter()), "a b c,d");
        let one: [&[u8]; 1] = [b"\"a   b\""];
        assert_eq!(canonical_header_value(one.into_iter()), "\"a b\"");
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
