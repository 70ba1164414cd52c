//! Repository names and tags: the OCI distribution spec's grammar, which also keeps
//! names from ever escaping a directory (`..`, `/`-prefixed or empty components).

/// The longest repository name accepted (ECR's limit).
pub const MAX_NAME_LEN: usize = 256;

/// Whether `name` matches
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
pub fn is_valid_repository_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.split('/').all(is_valid_component)
}

fn is_valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`, always between alphanumerics.
        let start = i;
        let first = b[i];
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = match first {
            b'.' => sep.len() == 1,
            b'_' => sep == b"_" || sep == b"__",
            b'-' => sep.iter().all(|&x| x == b'-'),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether `tag` matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || b"._-".contains(&x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for good in ["a", "library/busybox", "a.b_c__d---e/f0", "x/y/z", "team-1/app.v2"] {
            assert!(is_valid_repository_name(good), "{good}");
        }
        for bad in [
            "", "..", "a/..", "../a", "a/../b", "/a", "a/", "a//b", "A", "a..b", "a___b", "a_-b", "-a", "a-", ".a",
            "a b", "a%2e%2e", "a\\b", "a/./b",
        ] {
            assert!(!is_valid_repository_name(bad), "{bad}");
        }
        assert!(!is_valid_repository_name(&"a".repeat(257)));
    }

    #[test]
    fn tags() {
        for good in ["latest", "v1.2.3", "_x", "A-b_c.d"] {
            assert!(is_valid_tag(good), "{good}");
        }
        for bad in ["", ".x", "-x", "a:b", "a/b", &"x".repeat(129)] {
            assert!(!is_valid_tag(bad), "{bad}");
        }
    }
}
