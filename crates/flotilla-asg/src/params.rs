//! Reading query-protocol parameters: scalars with their ranges, lists
//! (`Name.member.N`), structures in lists (`Tags.member.N.Key`), and paging.

use crate::error::{AsgError, Result};
use flotilla_protocol::QueryRequest;
use std::collections::BTreeMap;

pub(crate) fn required<'a>(q: &'a QueryRequest, name: &str) -> Result<&'a str> {
    match q.get(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(AsgError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))),
    }
}

/// AWS names members in validation messages with a lower-case first letter.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A string parameter of at most `max` characters, if given.
pub(crate) fn string<'a>(q: &'a QueryRequest, name: &str, max: usize) -> Result<Option<&'a str>> {
    match q.get(name) {
        Some(v) if v.chars().count() > max => Err(AsgError::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {max}",
            lower_first(name)
        ))),
        other => Ok(other),
    }
}

/// An integer parameter within `min..=max`, if given.
pub(crate) fn integer(q: &QueryRequest, name: &str, min: i64, max: i64) -> Result<Option<i64>> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            Ok(n) if n < min => Err(AsgError::validation(format!(
                "1 validation error detected: Value '{n}' at '{}' failed to satisfy constraint: Member must have value greater than or equal to {min}",
                lower_first(name)
            ))),
            Ok(n) => Err(AsgError::validation(format!(
                "1 validation error detected: Value '{n}' at '{}' failed to satisfy constraint: Member must have value less than or equal to {max}",
                lower_first(name)
            ))),
            Err(_) => Err(AsgError::validation(format!("{name} must be an integer, not '{v}'"))),
        },
    }
}

/// A boolean parameter (`true`/`false`), if given.
pub(crate) fn boolean(q: &QueryRequest, name: &str) -> Result<Option<bool>> {
    match q.get(name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(AsgError::validation(format!("{name} must be true or false, not '{v}'"))),
    }
}

/// The string members of list `name`, each at most `max` characters, at most
/// `max_members` of them (more is `too_many`).
pub(crate) fn strings(
    q: &QueryRequest,
    name: &str,
    max: usize,
    max_members: usize,
    too_many: impl FnOnce(String) -> AsgError,
) -> Result<Vec<String>> {
    let items: Vec<String> = q.list(name).into_iter().map(str::to_string).collect();
    if items.len() > max_members {
        return Err(too_many(format!("{name} may name at most {max_members} items; {} were given", items.len())));
    }
    if let Some(long) = items.iter().find(|i| i.chars().count() > max || i.is_empty()) {
        return Err(AsgError::validation(format!("{name}: '{long}' must be 1 to {max} characters long")));
    }
    Ok(items)
}

/// The members of list `prefix` that are structures: each a map of its fields, in
/// index order (`Tags.member.2.Key` → member 2's `Key`; nested fields keep their dots).
pub(crate) fn structures(q: &QueryRequest, prefix: &str) -> Result<Vec<BTreeMap<String, String>>> {
    let start = format!("{prefix}.member.");
    let mut members: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
    for (k, v) in q.params() {
        let Some(rest) = k.strip_prefix(&start) else { continue };
        let Some((index, field)) = rest.split_once('.') else {
            return Err(AsgError::validation(format!("{k} is not a valid member of {prefix}")));
        };
        let index: u32 =
            index.parse().map_err(|_| AsgError::validation(format!("{k} is not a valid member of {prefix}")))?;
        members.entry(index).or_default().insert(field.to_string(), v.clone());
    }
    Ok(members.into_values().collect())
}

/// `MaxRecords` (1 to `max`, default `default`) and where `NextToken` resumes.
pub(crate) fn page(q: &QueryRequest, default: i64, max: i64) -> Result<(Option<String>, usize)> {
    let size = integer(q, "MaxRecords", 1, max)?.unwrap_or(default) as usize;
    let after = match q.get("NextToken") {
        Some(t) if !t.is_empty() => Some(
            flotilla_core::paging::decode_token(t)
                .map_err(|_| AsgError::InvalidNextToken("The token is not one this API returned".into()))?,
        ),
        _ => None,
    };
    Ok((after, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(body: &str) -> QueryRequest {
        QueryRequest::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn scalars_lists_and_structures() {
        let r = q("Action=X&MinSize=2&Flag=true&Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=1\
                   &Names.member.1=x&Names.member.2=y");
        assert_eq!(integer(&r, "MinSize", 0, 10).unwrap(), Some(2));
        assert!(integer(&r, "MinSize", 3, 10).is_err());
        assert_eq!(boolean(&r, "Flag").unwrap(), Some(true));
        assert_eq!(strings(&r, "Names", 5, 2, AsgError::LimitExceeded).unwrap(), ["x", "y"]);
        assert!(matches!(strings(&r, "Names", 5, 1, AsgError::LimitExceeded), Err(AsgError::LimitExceeded(_))));
        let tags = structures(&r, "Tags").unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0]["Key"], "a");
        assert_eq!(tags[1]["Key"], "b");
        assert!(matches!(required(&r, "Absent"), Err(AsgError::Validation(m)) if m.contains("'absent'")));
    }

    #[test]
    fn pages_refuse_foreign_tokens() {
        assert!(matches!(page(&q("Action=X&NextToken=zz"), 50, 100), Err(AsgError::InvalidNextToken(_))));
        let token = flotilla_core::paging::encode_token("web");
        assert_eq!(
            page(&q(&format!("Action=X&NextToken={token}&MaxRecords=3")), 50, 100).unwrap(),
            (Some("web".into()), 3)
        );
        assert!(page(&q("Action=X&MaxRecords=101"), 50, 100).is_err());
    }
}
