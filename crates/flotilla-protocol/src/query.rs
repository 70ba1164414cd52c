//! The AWS query protocol: form-encoded `Action=…&Version=…` requests and XML answers.
//!
//! [`QueryRequest`] reads a request body; [`XmlWriter`] writes escaped XML;
//! [`query_response`] wraps an operation's result in AWS's envelope
//! (`<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`) and
//! [`query_error_body`] writes the `<ErrorResponse>` botocore's `QueryParser` reads.

use crate::error::AwsError;
use axum::response::{IntoResponse, Response};

/// The content type of query-protocol requests.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// The content type of query-protocol answers.
pub const XML_CONTENT_TYPE: &str = "text/xml";

/// A decoded query-protocol request: its `Action`, `Version` and every parameter in the
/// order sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    pub action: String,
    pub version: Option<String>,
    params: Vec<(String, String)>,
}

impl QueryRequest {
    /// Decodes a form-encoded body. A body without `Action` is a `MissingAction` error.
    pub fn parse(body: &[u8]) -> Result<Self, AwsError> {
        let params: Vec<(String, String)> =
            form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let first = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let action = first("Action").filter(|a| !a.is_empty()).ok_or_else(|| {
            AwsError::client("MissingAction", "reading the query request: it has no Action parameter")
        })?;
        let version = first("Version");
        Ok(Self { action, version, params })
    }

    /// The first value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The members of list `name` (`name.member.1`, `name.member.2`, …) in index order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{name}.member.");
        let mut members: Vec<(u32, &str)> = self
            .params
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.parse().ok()?, v.as_str())))
            .collect();
        members.sort_by_key(|(i, _)| *i);
        members.into_iter().map(|(_, v)| v).collect()
    }

    /// Every parameter, in the order sent.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }
}

/// Writes XML elements with their text escaped; closes what it opened.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
    open: Vec<String>,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self.open.push(name.to_string());
        self
    }

    /// Opens `<name xmlns="namespace">`.
    pub fn open_ns(&mut self, name: &str, namespace: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        escape_into(&mut self.out, namespace);
        self.out.push_str("\">");
        self.open.push(name.to_string());
        self
    }

    /// Closes the element opened last.
    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            self.out.push_str("</");
            self.out.push_str(&name);
            self.out.push('>');
        }
        self
    }

    /// Writes `<name>text</name>`.
    pub fn element(&mut self, name: &str, text: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// The document, with every element still open closed.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }
}

/// Appends `text` escaped for XML character data and attribute values. Characters
/// XML 1.0 cannot carry at all (most control characters) become U+FFFD.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Escapes `text` for XML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// A 200 answer to `action` in AWS's query envelope; `result` writes the contents of
/// `<ActionResult>` (nothing for operations without output).
pub fn query_response(action: &str, xmlns: &str, request_id: &str, result: impl FnOnce(&mut XmlWriter)) -> Response {
    let mut w = XmlWriter::new();
    w.open_ns(&format!("{action}Response"), xmlns);
    w.open(&format!("{action}Result"));
    result(&mut w);
    w.close();
    w.open("ResponseMetadata").element("RequestId", request_id).close();
    xml_response(http::StatusCode::OK, w.finish())
}

/// AWS's query-protocol error body: `Type` is `Sender` for client errors and
/// `Receiver` for server errors; `ErrorResponse` carries the service's namespace when
/// the request reached one.
pub fn query_error_body(error: &AwsError, request_id: &str, xmlns: Option<&str>) -> String {
    let fault = if error.status.is_server_error() { "Receiver" } else { "Sender" };
    let mut w = XmlWriter::new();
    match xmlns {
        Some(ns) => w.open_ns("ErrorResponse", ns),
        None => w.open("ErrorResponse"),
    };
    w.open("Error").element("Type", fault).element("Code", &error.code).element("Message", &error.message).close();
    w.element("RequestId", request_id);
    w.finish()
}

pub(crate) fn xml_response(status: http::StatusCode, body: String) -> Response {
    (status, [(http::header::CONTENT_TYPE, XML_CONTENT_TYPE)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_action_version_and_lists() {
        let q = QueryRequest::parse(
            b"Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.2=b%20c&Names.member.1=a&Names.member.x=no&Marker=",
        )
        .unwrap();
        assert_eq!(q.action, "DescribeLoadBalancers");
        assert_eq!(q.version.as_deref(), Some("2015-12-01"));
        assert_eq!(q.list("Names"), vec!["a", "b c"]);
        assert_eq!(q.get("Marker"), Some(""));
        assert_eq!(q.get("Absent"), None);
        assert_eq!(q.params().len(), 6);
    }

    #[test]
    fn plus_is_a_space_and_action_is_required() {
        let q = QueryRequest::parse(b"Action=GetCallerIdentity&Note=a+b%2Bc").unwrap();
        assert_eq!(q.get("Note"), Some("a b+c"));
        assert_eq!(q.version, None);
        for body in [&b""[..], b"Version=2011-06-15", b"Action="] {
            assert_eq!(QueryRequest::parse(body).unwrap_err().code, "MissingAction");
        }
    }

    #[test]
    fn writer_escapes_and_closes() {
        let mut w = XmlWriter::new();
        w.open_ns("R", "https://x/\"q\"").open("L").element("member", "a<b>&'c'\u{1}\n").close().element("E", "");
        assert_eq!(
            w.finish(),
            "<R xmlns=\"https://x/&quot;q&quot;\"><L><member>a&lt;b&gt;&amp;&apos;c&apos;\u{FFFD}\n</member></L><E></E></R>"
        );
    }

    #[tokio::test]
    async fn envelopes_results_and_errors() {
        let res = query_response("GetCallerIdentity", "https://sts.amazonaws.com/doc/2011-06-15/", "rid", |w| {
            w.element("Account", "000000000000");
        });
        assert_eq!(res.headers()[http::header::CONTENT_TYPE], XML_CONTENT_TYPE);
        let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Account>000000000000</Account></GetCallerIdentityResult>\
             <ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
        let client = AwsError::client("InvalidAction", "no <such> action");
        assert_eq!(
            query_error_body(&client, "rid", None),
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>\
             <Message>no &lt;such&gt; action</Message></Error><RequestId>rid</RequestId></ErrorResponse>"
        );
        let server = AwsError::internal("InternalFailure", "x");
        let body = query_error_body(&server, "rid", Some("https://sts.amazonaws.com/doc/2011-06-15/"));
        assert!(body.starts_with(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Receiver</Type>"
        ));
    }
}
