//! Opaque `nextToken`s for List operations, and cutting a page.
//!
//! A token is the hex of the last key a page returned; the next page starts after
//! it. Clients must treat it as opaque; decoding refuses anything this did not make.

/// A `nextToken` that is not one this API returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nextToken is not a token this API returned")]
pub struct PageTokenError;

/// The token for a page whose last key is `key`.
pub fn encode_token(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The last key of the page a token was made for.
pub fn decode_token(token: &str) -> Result<String, PageTokenError> {
    if !token.len().is_multiple_of(2) {
        return Err(PageTokenError);
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or(PageTokenError)?;
    String::from_utf8(bytes).map_err(|_| PageTokenError)
}

/// Cuts a page fetched with one item more than `limit` down to `limit`, and gives
/// the token of its last item when more remain.
pub fn finish_page<T>(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    if items.len() <= limit {
        return (items, None);
    }
    items.truncate(limit);
    let token = items.last().map(|item| encode_token(&key(item)));
    (items, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        assert_eq!(decode_token(&encode_token("web:12")).unwrap(), "web:12");
        assert_eq!(decode_token(&encode_token("")).unwrap(), "");
        assert_eq!(decode_token("zz"), Err(PageTokenError));
        assert_eq!(decode_token("abc"), Err(PageTokenError));
        assert_eq!(decode_token("ff"), Err(PageTokenError), "not utf-8");
    }

    #[test]
    fn pages_are_cut_with_a_token_only_when_more_remain() {
        let (page, token) = finish_page(vec!["a", "b", "c"], 2, |s| s.to_string());
        assert_eq!(page, ["a", "b"]);
        assert_eq!(decode_token(&token.unwrap()).unwrap(), "b");
        let (page, token) = finish_page(vec!["a", "b"], 2, |s| s.to_string());
        assert_eq!((page.len(), token), (2, None));
    }
}
