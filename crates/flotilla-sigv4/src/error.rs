//! Why a request was refused, in the words AWS uses.
//!
//! Every variant knows the AWS error code (the `__type` of a JSON-protocol error body),
//! the HTTP status and its message; `Display` is that message, reproduced verbatim
//! (capitals and trailing periods included) because clients and people compare it with
//! what AWS says.
//!
//! Sources for codes, statuses and wording:
//! * AWS JSON-protocol services (DynamoDB, ECS, Cognito, CodeDeploy, ...) answer every
//!   authentication failure with HTTP 400. The order of checks and the messages below
//!   follow the real DynamoDB responses recorded in dynalite's `index.js`
//!   (github.com/architect/dynalite), e.g.
//!   `{"__type":"com.amazon.coral.service#IncompleteSignatureException","message":"Date must be in ISO-8601 'basic format'. ..."}`.
//! * `UnrecognizedClientException` "The security token included in the request is
//!   invalid." with status 400 from ECS: aws-azure-login issue #37 (ecs-cli against ECS);
//!   from DynamoDB and Cognito: yegor256/s3auth #244, aws/aws-sdk-php #2444.
//! * `InvalidSignatureException` with status 400 from ECS:
//!   teralytics/prometheus-ecs-discovery #7; "Signature expired: A is now earlier than B
//!   (C - 5 min.)": remind101/logspout-kinesis #21, aws/aws-sdk-js #573; "Signature not yet
//!   current: A is still later than B (C + 5 min.)": CodeDeploy logs quoted in public
//!   notes.
//! * `IncompleteSignatureException` "'X' not a valid key=value pair (missing equal-sign)
//!   in Authorization header: '...'." (400): iann0036/cloud9-sync #10, aws/aws-sdk-go #289;
//!   "Authorization header requires 'Credential' parameter. ...": aws/chalice #828.
//! * `MissingAuthenticationTokenException` "Missing Authentication Token": Lambda's wording
//!   (brefphp/bref #1250, HTTP 403 there); DynamoDB says "Request is missing Authentication
//!   Token" with HTTP 400 (dynalite #105, `statusCode: 400`). No public ECS sample was
//!   found; we use the shorter wording with 400, like the other JSON-protocol refusals.
//!   The generic "Common Errors" page of the query-protocol services lists 403; botocore
//!   raises the same `ClientError` either way.
//! * `RequestExpired` (400) for presigned URLs past `X-Amz-Date + X-Amz-Expires`: the
//!   "Common Errors" page of AWS API references ("...more than 15 minutes after the
//!   request expiration date (such as for pre-signed URLs)..."), with S3's message "Request
//!   has expired".
//! * `XAmzContentSHA256Mismatch` (400) and its message: S3's error-code list (no
//!   JSON-protocol service documents an equivalent).
//! * "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization." is an
//!   `InvalidSignatureException` (dynalite records the older "'Host' must be ..." form).

use thiserror::Error;

/// The verifier's refusal of a request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SigV4Error {
    /// Neither an `Authorization: AWS4-...` header nor `X-Amz-Algorithm` in the query.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,

    /// The `Authorization` header or the presigned query parameters are malformed or
    /// incomplete. The message is AWS's wording for the particular problem.
    #[error("{message}")]
    IncompleteSignature {
        /// AWS's message.
        message: String,
    },

    /// The access key id is not known to the credential store.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient {
        /// The access key id that was presented (not secret; for logs).
        access_key_id: String,
    },

    /// The session token (`X-Amz-Security-Token`) is missing, unexpected or wrong for the
    /// access key. AWS's message for this case has no trailing period.
    #[error("The security token included in the request is invalid")]
    InvalidSecurityToken {
        /// The access key id that was presented.
        access_key_id: String,
    },

    /// The signature does not match. The canonical request and string to sign the
    /// server computed are kept for debug logs (they contain no secret) but are not part
    /// of the message.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureMismatch {
        /// The canonical request the server computed.
        canonical_request: String,
        /// The string to sign the server computed.
        string_to_sign: String,
    },

    /// The request is dated more than the allowed skew before the server clock.
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - 5 min.)")]
    SignatureExpired {
        /// `X-Amz-Date` of the request.
        request_time: String,
        /// The earliest acceptable time (server time minus 5 minutes).
        earliest: String,
        /// The server time.
        now: String,
    },

    /// The request is dated more than the allowed skew after the server clock.
    #[error("Signature not yet current: {request_time} is still later than {latest} ({now} + 5 min.)")]
    SignatureNotYetCurrent {
        /// `X-Amz-Date` of the request.
        request_time: String,
        /// The latest acceptable time (server time plus 5 minutes).
        latest: String,
        /// The server time.
        now: String,
    },

    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired")]
    PresignedUrlExpired {
        /// When the URL expired (`X-Amz-Date + X-Amz-Expires`).
        expired_at: String,
        /// The server time.
        now: String,
    },

    /// Another `InvalidSignatureException` (host not signed, credential scope wrong,
    /// both header and query authentication, ...). The message is AWS's wording.
    #[error("{message}")]
    InvalidSignature {
        /// AWS's message.
        message: String,
    },

    /// The body does not hash to the `x-amz-content-sha256` the client signed.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch {
        /// The hash the client sent.
        claimed: String,
        /// The hash of the body received.
        computed: String,
    },

    /// The caller gave no body and the request has no `x-amz-content-sha256` header, so
    /// the payload hash cannot be known. A server-side usage error more than a client one.
    #[error("cannot verify the request payload: no body was given and no x-amz-content-sha256 header was sent")]
    PayloadHashUnknown,
}

impl SigV4Error {
    /// The AWS error code (`__type` of a JSON-protocol error, `Code` of a query-protocol
    /// one).
    pub fn code(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            SigV4Error::IncompleteSignature { .. } | SigV4Error::PayloadHashUnknown => "IncompleteSignatureException",
            SigV4Error::UnrecognizedClient { .. } | SigV4Error::InvalidSecurityToken { .. } => {
                "UnrecognizedClientException"
            }
            SigV4Error::SignatureMismatch { .. }
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. }
            | SigV4Error::InvalidSignature { .. } => "InvalidSignatureException",
            SigV4Error::PresignedUrlExpired { .. } => "RequestExpired",
            SigV4Error::ContentSha256Mismatch { .. } => "XAmzContentSHA256Mismatch",
        }
    }

    /// The HTTP status AWS JSON-protocol services answer with: 400 for all of these.
    pub fn http_status(&self) -> u16 {
        400
    }

    /// The message to put in the error body (same as `Display`).
    pub fn message(&self) -> String {
        self.to_string()
    }

    pub(crate) fn incomplete(message: impl Into<String>) -> Self {
        SigV4Error::IncompleteSignature { message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        SigV4Error::InvalidSignature { message: message.into() }
    }
}

/// Why the client-side signer could not sign a request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignError {
    /// The request has no `host` header; SigV4 always signs it.
    #[error("signing {method} {path}: the request has no host header")]
    MissingHost {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },
    /// A value to be put in a header (access key id, region, service or session token)
    /// is not a valid HTTP header value.
    #[error("signing {method} {path}: {what} is not a valid header value")]
    InvalidHeaderValue {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// Which value.
        what: &'static str,
    },
    /// Presigned URLs live between 1 second and 7 days.
    #[error("presigning {method} {path}: expiry of {seconds} s is outside 1..=604800")]
    ExpiresOutOfRange {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// The expiry asked for.
        seconds: u64,
    },
}
