//! Percent-encoding and the canonical forms of the URI path and query string, as SigV4
//! specifies them for every service except S3.
//!
//! * Path: dot segments (`.`, `..`) are removed and empty segments (`//`) collapsed, the
//!   way botocore's `remove_dot_segments` does, then the still-percent-encoded path is
//!   URI-encoded *again* (so `%20` becomes `%2520`): non-S3 services sign a double-encoded
//!   path.
//! * Query: every `name=value` pair is percent-decoded and re-encoded with the SigV4
//!   unreserved set (`A-Z a-z 0-9 - _ . ~`, everything else `%XX` upper-case; `+` is taken
//!   literally, not as a space), then sorted by encoded name and, for repeated names, by
//!   encoded value.

/// Percent-encodes `bytes`, keeping only RFC 3986 unreserved characters (and `/` when
/// `keep_slash`).
pub fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits is kept literally.
pub fn percent_decode(text: &str) -> Vec<u8> {
    fn hex(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Removes `.` and `..` segments and collapses repeated slashes, keeping a leading slash
/// and (when anything is left) a trailing one. An empty path becomes `/`.
pub fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&kept.join("/"));
    if path.ends_with('/') && !kept.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI of a raw (as received, still percent-encoded) request path.
pub fn canonical_uri(raw_path: &str) -> String {
    uri_encode(normalize_path(raw_path).as_bytes(), true)
}

/// Splits a raw query string into percent-decoded `(name, value)` pairs, in order.
/// Empty pieces (`a=1&&b=2`, a trailing `&`) are skipped; a piece without `=` has an
/// empty value.
pub fn parse_query(raw_query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw_query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// The canonical query string of a raw query, leaving out any parameter whose decoded
/// name equals `exclude` (the presigned `X-Amz-Signature`).
pub fn canonical_query(raw_query: &str, exclude: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = parse_query(raw_query)
        .into_iter()
        .filter(|(name, _)| exclude.is_none_or(|x| name.as_slice() != x.as_bytes()))
        .map(|(name, value)| (uri_encode(&name, false), uri_encode(&value, false)))
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_unicode() {
        assert_eq!(uri_encode(b"a b/c~d_e.f-g", false), "a%20b%2Fc~d_e.f-g");
        assert_eq!(uri_encode(b"a b/c", true), "a%20b/c");
        assert_eq!(uri_encode("é".as_bytes(), false), "%C3%A9");
        assert_eq!(uri_encode(b"+=&*", false), "%2B%3D%26%2A");
    }

    #[test]
    fn decodes_and_tolerates_stray_percent() {
        assert_eq!(percent_decode("a%20b%2fc"), b"a b/c");
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("a+b"), b"a+b");
    }

    #[test]
    fn normalizes_paths_like_botocore() {
        assert_eq!(normalize_path(""), "/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("//"), "/");
        assert_eq!(normalize_path("/a/./b/../c"), "/a/c");
        assert_eq!(normalize_path("/a//b/"), "/a/b/");
        assert_eq!(normalize_path("/../.."), "/");
        assert_eq!(normalize_path("/a/b/.."), "/a");
        assert_eq!(normalize_path("/example/.."), "/");
    }

    #[test]
    fn canonical_uri_double_encodes() {
        assert_eq!(canonical_uri("/a%20b/c"), "/a%2520b/c");
        assert_eq!(canonical_uri("/documents and settings/"), "/documents%20and%20settings/");
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(canonical_query("", None), "");
        assert_eq!(canonical_query("b=2&a=1&a=0", None), "a=0&a=1&b=2");
        assert_eq!(canonical_query("k=a%20b&x", None), "k=a%20b&x=");
        assert_eq!(canonical_query("k=a b&j=%7e", None), "j=~&k=a%20b");
        assert_eq!(canonical_query("X-Amz-Signature=abc&a=1", Some("X-Amz-Signature")), "a=1");
        // Sorted by the *encoded* name: "%2B" < "A" < "a".
        assert_eq!(canonical_query("a=1&A=2&%2B=3", None), "%2B=3&A=2&a=1");
    }
}
