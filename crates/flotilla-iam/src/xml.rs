//! How IAM and STS shapes are written in query-protocol answers (botocore's member
//! names). Policy documents are URL-encoded, as IAM sends them (boto3 decodes them).

use crate::model::{AccessKey, Group, ManagedPolicy, PolicyVersion, Role, User};
use flotilla_core::tag::Tag;
use flotilla_protocol::XmlWriter;

pub(crate) fn boolean(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// `text` percent-encoded but for RFC 3986's unreserved characters.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes `items` as `<name><member>…</member>…</name>`.
pub(crate) fn members<T>(w: &mut XmlWriter, name: &str, items: &[T], each: impl Fn(&mut XmlWriter, &T)) {
    w.open(name);
    for item in items {
        w.open("member");
        each(w, item);
        w.close();
    }
    w.close();
}

pub(crate) fn string_members(w: &mut XmlWriter, name: &str, items: &[String]) {
    w.open(name);
    for item in items {
        w.element("member", item);
    }
    w.close();
}

pub(crate) fn tags(w: &mut XmlWriter, tags: &[Tag]) {
    members(w, "Tags", tags, |w, t| {
        w.element("Key", &t.key).element("Value", &t.value);
    });
}

/// A list's paging members.
pub(crate) fn paging(w: &mut XmlWriter, marker: &Option<String>) {
    w.element("IsTruncated", boolean(marker.is_some()));
    if let Some(m) = marker {
        w.element("Marker", m);
    }
}

pub(crate) fn user(w: &mut XmlWriter, u: &User, with_tags: bool) {
    w.element("Path", &u.path)
        .element("UserName", &u.name)
        .element("UserId", &u.id)
        .element("Arn", &u.arn)
        .element("CreateDate", &u.created.to_iso8601());
    if with_tags && !u.tags.is_empty() {
        tags(w, &u.tags);
    }
}

pub(crate) fn group(w: &mut XmlWriter, g: &Group) {
    w.element("Path", &g.path)
        .element("GroupName", &g.name)
        .element("GroupId", &g.id)
        .element("Arn", &g.arn)
        .element("CreateDate", &g.created.to_iso8601());
}

pub(crate) fn role(w: &mut XmlWriter, r: &Role, with_tags: bool) {
    w.element("Path", &r.path)
        .element("RoleName", &r.name)
        .element("RoleId", &r.id)
        .element("Arn", &r.arn)
        .element("CreateDate", &r.created.to_iso8601())
        .element("AssumeRolePolicyDocument", &url_encode(&r.trust_policy));
    if let Some(d) = &r.description {
        w.element("Description", d);
    }
    w.element("MaxSessionDuration", &r.max_session_duration.to_string());
    if with_tags && !r.tags.is_empty() {
        tags(w, &r.tags);
    }
}

pub(crate) fn policy(w: &mut XmlWriter, p: &ManagedPolicy, attachments: usize) {
    w.element("PolicyName", &p.name)
        .element("PolicyId", &p.id)
        .element("Arn", &p.arn)
        .element("Path", &p.path)
        .element("DefaultVersionId", &p.default_version)
        .element("AttachmentCount", &attachments.to_string())
        .element("PermissionsBoundaryUsageCount", "0")
        .element("IsAttachable", "true");
    if let Some(d) = &p.description {
        w.element("Description", d);
    }
    w.element("CreateDate", &p.created.to_iso8601()).element("UpdateDate", &p.updated.to_iso8601());
    if !p.tags.is_empty() {
        tags(w, &p.tags);
    }
}

pub(crate) fn policy_version(w: &mut XmlWriter, v: &PolicyVersion, default: bool, with_document: bool) {
    if with_document {
        w.element("Document", &url_encode(&v.document));
    }
    w.element("VersionId", &v.id)
        .element("IsDefaultVersion", boolean(default))
        .element("CreateDate", &v.created.to_iso8601());
}

pub(crate) fn access_key_metadata(w: &mut XmlWriter, k: &AccessKey) {
    w.element("UserName", &k.user)
        .element("AccessKeyId", &k.id)
        .element("Status", if k.active { "Active" } else { "Inactive" })
        .element("CreateDate", &k.created.to_iso8601());
}

/// Attached managed policies: `<member><PolicyName/><PolicyArn/></member>`.
pub(crate) fn attached(w: &mut XmlWriter, name: &str, arns: &[String]) {
    members(w, name, arns, |w, arn| {
        let policy_name = arn.rsplit('/').next().unwrap_or(arn);
        w.element("PolicyName", policy_name).element("PolicyArn", arn);
    });
}

/// Inline policies as `GetAccountAuthorizationDetails` lists them.
pub(crate) fn inline_list(w: &mut XmlWriter, name: &str, inline: &std::collections::BTreeMap<String, String>) {
    let items: Vec<(&String, &String)> = inline.iter().collect();
    members(w, name, &items, |w, (n, doc)| {
        w.element("PolicyName", n).element("PolicyDocument", &url_encode(doc));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_url_encoded() {
        assert_eq!(url_encode(r#"{"a": "b/c"}"#), "%7B%22a%22%3A%20%22b%2Fc%22%7D");
    }
}
