//! Parameter names, paths, selectors, labels and ARNs, with AWS's rules.

use crate::error::{Code, Result, SsmError};

/// The longest parameter name (without the ARN's prefix).
pub const MAX_NAME_LEN: usize = 1011;
/// The deepest hierarchy: `/a/b/…` with at most 15 levels.
pub const MAX_LEVELS: usize = 15;
const MAX_LABEL_LEN: usize = 100;

const NAME_RULES: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a \
                          path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a \
                          mix of letters, numbers and the following 3 symbols .-_";

fn segment_ok(segment: &str) -> bool {
    !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn reserved(name: &str) -> bool {
    let bare = name.strip_prefix('/').unwrap_or(name).to_ascii_lowercase();
    bare.starts_with("aws") || bare.starts_with("ssm")
}

/// Checks a parameter's name: `[a-zA-Z0-9_.-]` segments, hierarchies starting with `/`,
/// at most 15 levels and 1011 characters, not prefixed with `aws` or `ssm`.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(SsmError::validation(format!(
            "Parameter name must be 1 to {MAX_NAME_LEN} characters long; {} given.",
            name.len()
        )));
    }
    let segments: Vec<&str> = match name.strip_prefix('/') {
        Some(path) => path.split('/').collect(),
        None if name.contains('/') => {
            return Err(SsmError::validation("Parameter name must be a fully qualified name."));
        }
        None => vec![name],
    };
    if !segments.iter().all(|s| segment_ok(s)) || reserved(name) {
        return Err(SsmError::validation(NAME_RULES));
    }
    if segments.len() > MAX_LEVELS {
        return Err(SsmError::refused(
            Code::HierarchyLevelLimitExceeded,
            format!("A hierarchy can have a maximum of {MAX_LEVELS} levels."),
        ));
    }
    Ok(())
}

/// Checks a path of GetParametersByPath and gives the prefix its parameters' names
/// start with (`/` for the root, else the path with one trailing `/`).
pub fn path_prefix(path: &str) -> Result<String> {
    let invalid = || {
        SsmError::validation(format!(
            "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a \
             forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only \
             letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters \
             are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: \
             /get/parameters2-/by1./path0_. ({path})"
        ))
    };
    let Some(rest) = path.strip_prefix('/') else { return Err(invalid()) };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok("/".to_string());
    }
    if path.len() > MAX_NAME_LEN || reserved(path) || !rest.split('/').all(segment_ok) {
        return Err(invalid());
    }
    if rest.split('/').count() > MAX_LEVELS {
        return Err(SsmError::refused(
            Code::HierarchyLevelLimitExceeded,
            format!("A hierarchy can have a maximum of {MAX_LEVELS} levels."),
        ));
    }
    Ok(format!("/{rest}/"))
}

/// Which version a request names after the `:` of `name:selector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Version(i64),
    Label(String),
}

impl Selector {
    /// As the answer's `Selector` member shows it (`:3`, `:prod`).
    pub fn display(&self) -> String {
        match self {
            Selector::Version(v) => format!(":{v}"),
            Selector::Label(l) => format!(":{l}"),
        }
    }
}

/// A parameter as a request names it: a name or an ARN, with an optional selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRef {
    /// The names it may stand for, first the likeliest: an ARN of a one-level name
    /// (`parameter/x`) is `x` or `/x`.
    pub candidates: Vec<String>,
    pub selector: Option<Selector>,
}

/// Splits `name[:selector]` (or `arn:…:parameter/name[:selector]`) given in a request.
pub fn parse_ref(given: &str, region: &str, account: &str) -> Result<NameRef> {
    if given.is_empty() || given.len() > 2048 {
        return Err(SsmError::validation("Parameter name must be 1 to 2048 characters long."));
    }
    let (candidates, rest) = if given.starts_with("arn:") {
        let prefix = format!("arn:aws:ssm:{region}:{account}:parameter/");
        let Some(resource) = given.strip_prefix(&prefix) else {
            return Err(SsmError::not_found(given));
        };
        let (resource, selector) = match resource.split_once(':') {
            Some((r, s)) => (r, Some(s)),
            None => (resource, None),
        };
        let names = if resource.contains('/') {
            vec![format!("/{resource}")]
        } else {
            vec![resource.to_string(), format!("/{resource}")]
        };
        (names, selector)
    } else {
        match given.split_once(':') {
            Some((n, s)) => (vec![n.to_string()], Some(s)),
            None => (vec![given.to_string()], None),
        }
    };
    let selector = match rest {
        None => None,
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Selector::Version(s.parse().map_err(|_| SsmError::validation(format!("Invalid version {s}.")))?))
        }
        Some(s) if label_ok(s) => Some(Selector::Label(s.to_string())),
        Some(s) => {
            return Err(SsmError::validation(format!("Invalid label or version selector :{s} in {given}.")));
        }
    };
    Ok(NameRef { candidates, selector })
}

/// A label's rules: 1 to 100 letters, digits, `.`, `-` or `_`, not starting with a digit,
/// `aws` or `ssm` (case-insensitive).
pub fn label_ok(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !label.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

/// `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`; a leading `/` of the name is not doubled.
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:ssm:{region}:{account}:parameter/{}", name.strip_prefix('/').unwrap_or(name))
}

/// Whether `name` is directly under the path `prefix` (from [`path_prefix`]), or
/// anywhere below it when `recursive`.
pub fn under_path(name: &str, prefix: &str, recursive: bool) -> bool {
    match name.strip_prefix(prefix) {
        Some(rest) => !rest.is_empty() && (recursive || !rest.contains('/')),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "A.b-c_d", "/a", "/a/b/c", "/awesome-but-not-aws/x", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "/a//b", "/a/", "/", "a b", "a:b", "aws-x", "/aws/x", "SSM", "/Ssm/x", "é"] {
            assert_eq!(validate_name(bad).unwrap_err().code(), Some(Code::Validation), "{bad}");
        }
        let deep = "/a".repeat(16);
        assert_eq!(validate_name(&deep).unwrap_err().code(), Some(Code::HierarchyLevelLimitExceeded));
        assert!(validate_name(&"x".repeat(1011)).is_ok());
        assert!(validate_name(&"x".repeat(1012)).is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(path_prefix("/").unwrap(), "/");
        assert_eq!(path_prefix("/a/b").unwrap(), "/a/b/");
        assert_eq!(path_prefix("/a/b/").unwrap(), "/a/b/");
        assert!(path_prefix("a").is_err());
        assert!(path_prefix("/a//b").is_err());
        assert!(path_prefix("/aws").is_err());
        assert!(under_path("/a/b", "/a/", false));
        assert!(!under_path("/a/b/c", "/a/", false));
        assert!(under_path("/a/b/c", "/a/", true));
        assert!(!under_path("/ab", "/a/", true));
        assert!(under_path("/x", "/", false));
        assert!(!under_path("x", "/", true));
    }

    #[test]
    fn refs_and_arns() {
        let r = parse_ref("/a/b:3", "r", "1").unwrap();
        assert_eq!((r.candidates, r.selector), (vec!["/a/b".to_string()], Some(Selector::Version(3))));
        let r = parse_ref("x:prod", "r", "1").unwrap();
        assert_eq!(r.selector, Some(Selector::Label("prod".into())));
        let r = parse_ref("arn:aws:ssm:r:1:parameter/a/b:prod", "r", "1").unwrap();
        assert_eq!((r.candidates, r.selector), (vec!["/a/b".to_string()], Some(Selector::Label("prod".into()))));
        let r = parse_ref("arn:aws:ssm:r:1:parameter/x", "r", "1").unwrap();
        assert_eq!(r.candidates, vec!["x".to_string(), "/x".to_string()]);
        assert_eq!(
            parse_ref("arn:aws:ssm:q:1:parameter/x", "r", "1").unwrap_err().code(),
            Some(Code::ParameterNotFound)
        );
        assert!(parse_ref("x:aws-bad", "r", "1").is_err());
        assert_eq!(arn("r", "1", "/a/b"), "arn:aws:ssm:r:1:parameter/a/b");
        assert_eq!(arn("r", "1", "a"), "arn:aws:ssm:r:1:parameter/a");
    }

    #[test]
    fn labels() {
        for ok in ["prod", "Prod.v1-x_y", "a1"] {
            assert!(label_ok(ok), "{ok}");
        }
        for bad in ["", "1st", "aws-x", "SSMx", "a b", "a/b", &"x".repeat(101)] {
            assert!(!label_ok(bad), "{bad}");
        }
    }
}
