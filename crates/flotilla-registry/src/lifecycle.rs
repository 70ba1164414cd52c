//! ECR lifecycle policies: parsing, validating and evaluating rules against a
//! repository's images. Pure: the caller supplies the images and the time.
//!
//! Rules run in `rulePriority` order (lowest number first). A rule first selects the
//! images matching its tag requirements that no earlier rule selected, then expires
//! those beyond its count (`imageCountMoreThan`, newest kept) or older than its age
//! (`sinceImagePushed`). An image selected by a rule is never expired by a later one,
//! so every image is expired by at most one rule.

use flotilla_domain::Timestamp;
use serde::Deserialize;

/// A parsed lifecycle policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub priority: i64,
    pub tag_status: TagStatus,
    /// Each prefix must be the prefix of one of the image's tags.
    pub tag_prefixes: Vec<String>,
    /// Each pattern (with `*` wildcards) must match one of the image's tags.
    pub tag_patterns: Vec<String>,
    pub count: Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagStatus {
    Tagged,
    Untagged,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Keep the newest N; expire the rest.
    ImageCountMoreThan(i64),
    /// Expire images pushed more than N days ago.
    SinceImagePushedDays(i64),
}

/// An image as lifecycle rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: Timestamp,
}

/// An image a rule expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: Timestamp,
    pub rule_priority: i64,
}

/// Why a policy text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid lifecycle policy: {0}")]
pub struct PolicyError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    rules: Vec<RuleDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuleDoc {
    rule_priority: i64,
    #[serde(default)]
    description: Option<String>,
    selection: SelectionDoc,
    action: ActionDoc,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SelectionDoc {
    tag_status: String,
    #[serde(default)]
    tag_prefix_list: Option<Vec<String>>,
    #[serde(default)]
    tag_pattern_list: Option<Vec<String>>,
    count_type: String,
    #[serde(default)]
    count_unit: Option<String>,
    count_number: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionDoc {
    #[serde(rename = "type")]
    kind: String,
}

fn err(message: impl Into<String>) -> PolicyError {
    PolicyError(message.into())
}

/// Parses and validates a lifecycle policy text.
pub fn parse(text: &str) -> Result<Policy, PolicyError> {
    let doc: PolicyDoc = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
    if doc.rules.is_empty() {
        return Err(err("the policy has no rules"));
    }
    let mut rules = Vec::with_capacity(doc.rules.len());
    for r in doc.rules {
        let _ = r.description;
        let p = r.rule_priority;
        if p < 1 {
            return Err(err(format!("rulePriority {p} must be a positive integer")));
        }
        if rules.iter().any(|x: &Rule| x.priority == p) {
            return Err(err(format!("rulePriority {p} is used by more than one rule")));
        }
        let s = r.selection;
        let tag_status = match s.tag_status.as_str() {
            "tagged" => TagStatus::Tagged,
            "untagged" => TagStatus::Untagged,
            "any" => TagStatus::Any,
            other => return Err(err(format!("rule {p}: tagStatus '{other}' is not tagged, untagged or any"))),
        };
        let prefixes = s.tag_prefix_list.unwrap_or_default();
        let patterns = s.tag_pattern_list.unwrap_or_default();
        match tag_status {
            TagStatus::Tagged if prefixes.is_empty() == patterns.is_empty() => {
                return Err(err(format!(
                    "rule {p}: tagged selections need exactly one of tagPrefixList and tagPatternList"
                )));
            }
            TagStatus::Untagged | TagStatus::Any if !prefixes.is_empty() || !patterns.is_empty() => {
                return Err(err(format!("rule {p}: tag lists are only allowed with tagStatus tagged")));
            }
            _ => {}
        }
        if patterns.iter().any(|x| x.matches('*').count() > 4) {
            return Err(err(format!("rule {p}: a tag pattern may have at most 4 wildcards")));
        }
        if s.count_number < 1 {
            return Err(err(format!("rule {p}: countNumber must be at least 1")));
        }
        let count = match (s.count_type.as_str(), s.count_unit.as_deref()) {
            ("imageCountMoreThan", None) => Count::ImageCountMoreThan(s.count_number),
            ("sinceImagePushed", Some("days")) => Count::SinceImagePushedDays(s.count_number),
            ("imageCountMoreThan", Some(_)) => {
                return Err(err(format!("rule {p}: countUnit is not allowed with imageCountMoreThan")));
            }
            ("sinceImagePushed", _) => return Err(err(format!("rule {p}: sinceImagePushed needs countUnit days"))),
            (other, _) => return Err(err(format!("rule {p}: countType '{other}' is not supported"))),
        };
        if r.action.kind != "expire" {
            return Err(err(format!("rule {p}: action type '{}' is not supported (expire is)", r.action.kind)));
        }
        rules.push(Rule { priority: p, tag_status, tag_prefixes: prefixes, tag_patterns: patterns, count });
    }
    rules.sort_by_key(|r| r.priority);
    if let Some(i) = rules.iter().position(|r| r.tag_status == TagStatus::Any)
        && i + 1 != rules.len()
    {
        return Err(err("a rule with tagStatus any must have the highest rulePriority"));
    }
    Ok(Policy { rules })
}

/// Whether `pattern` (with `*` matching any run of characters) matches `text`.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

impl Rule {
    fn selects(&self, image: &Image) -> bool {
        match self.tag_status {
            TagStatus::Any => true,
            TagStatus::Untagged => image.tags.is_empty(),
            TagStatus::Tagged => {
                !image.tags.is_empty()
                    && self.tag_prefixes.iter().all(|p| image.tags.iter().any(|t| t.starts_with(p.as_str())))
                    && self.tag_patterns.iter().all(|p| image.tags.iter().any(|t| wildcard_match(p, t)))
            }
        }
    }
}

/// The images `policy` expires at `now`.
pub fn evaluate(policy: &Policy, images: &[Image], now: Timestamp) -> Vec<Expiry> {
    let mut claimed = vec![false; images.len()];
    let mut expired = Vec::new();
    for rule in &policy.rules {
        let mut selected: Vec<usize> = (0..images.len()).filter(|&i| !claimed[i] && rule.selects(&images[i])).collect();
        // Newest first; the digest breaks ties so the outcome is deterministic.
        selected.sort_by(|&a, &b| {
            images[b].pushed_at.cmp(&images[a].pushed_at).then_with(|| images[a].digest.cmp(&images[b].digest))
        });
        let expire: Vec<usize> = match rule.count {
            Count::ImageCountMoreThan(n) => selected.iter().skip(n as usize).copied().collect(),
            Count::SinceImagePushedDays(days) => {
                let cutoff = now.0 - days * 86_400_000;
                selected.iter().filter(|&&i| images[i].pushed_at.0 < cutoff).copied().collect()
            }
        };
        for &i in &selected {
            claimed[i] = true;
        }
        for i in expire {
            let image = &images[i];
            expired.push(Expiry {
                digest: image.digest.clone(),
                tags: image.tags.clone(),
                pushed_at: image.pushed_at,
                rule_priority: rule.priority,
            });
        }
    }
    expired
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn img(d: &str, tags: &[&str], day: i64) -> Image {
        Image { digest: d.into(), tags: tags.iter().map(|t| t.to_string()).collect(), pushed_at: Timestamp(day * DAY) }
    }

    fn expired(policy: &str, images: &[Image], now_day: i64) -> Vec<(String, i64)> {
        let p = parse(policy).unwrap();
        evaluate(&p, images, Timestamp(now_day * DAY)).into_iter().map(|e| (e.digest, e.rule_priority)).collect()
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("prod*", "prod-1"));
        assert!(wildcard_match("*-rc*", "v1-rc2"));
        assert!(wildcard_match("a*b*c", "abc"));
        assert!(!wildcard_match("a*b*c", "acb"));
        assert!(wildcard_match("exact", "exact"));
        assert!(!wildcard_match("exact", "exactly"));
        assert!(!wildcard_match("ab*ba", "aba"));
    }

    #[test]
    fn count_more_than_keeps_newest() {
        let images = [img("a", &[], 1), img("b", &[], 3), img("c", &[], 2), img("t", &["v1"], 0)];
        let policy = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
        assert_eq!(expired(policy, &images, 10), vec![("c".into(), 1), ("a".into(), 1)]);
    }

    #[test]
    fn since_pushed_and_prefixes() {
        let images = [img("old", &["prod-1"], 1), img("new", &["prod-2"], 9), img("dev", &["dev-1"], 1)];
        let policy = r#"{"rules":[{"rulePriority":5,"selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"sinceImagePushed","countUnit":"days","countNumber":5},"action":{"type":"expire"}}]}"#;
        assert_eq!(expired(policy, &images, 10), vec![("old".into(), 5)]);
    }

    #[test]
    fn earlier_rules_protect_what_they_select() {
        let images = [img("p1", &["prod-1"], 1), img("p2", &["prod-2"], 2), img("x", &["x"], 3)];
        // Rule 1 keeps up to 5 prod images; rule 2 (any, keep 1) must not expire them.
        let policy = r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["prod-*"],"countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}},
            {"rulePriority":2,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
        assert_eq!(expired(policy, &images, 10), Vec::<(String, i64)>::new());
        let images = [img("p1", &["prod-1"], 1), img("x", &["x"], 3), img("y", &["y"], 4)];
        assert_eq!(expired(policy, &images, 10), vec![("x".into(), 2)]);
    }

    #[test]
    fn refuses_invalid_policies() {
        for bad in [
            "not json",
            r#"{"rules":[]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePushed","countNumber":1},"action":{"type":"expire"}}]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0},"action":{"type":"expire"}}]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"archive"}}]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
                         {"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
                         {"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
