//! The MD5 digests SQS answers with, which SDKs check: of the body (`MD5OfMessageBody`)
//! and of message attributes (`MD5OfMessageAttributes`, `MD5OfMessageSystemAttributes`)
//! encoded as AWS documents it: attributes sorted by name, each as its name, its data
//! type and a transport byte (1 for `String` and `Number` types, 2 for `Binary`), then
//! its value, every variable-length part preceded by its length as 4 bytes big-endian.

use ::md5::{Digest, Md5};

/// One attribute's parts, as the digest reads them.
#[derive(Debug, Clone, Copy)]
pub struct AttributeParts<'a> {
    pub name: &'a str,
    pub data_type: &'a str,
    pub value: &'a [u8],
    pub binary: bool,
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The MD5 of a body, as lower-case hex.
pub fn of_body(body: &str) -> String {
    hex(&Md5::digest(body.as_bytes()))
}

/// The MD5 of a set of attributes (in any order), as lower-case hex.
pub fn of_attributes(attributes: &[AttributeParts<'_>]) -> String {
    let mut sorted: Vec<&AttributeParts<'_>> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut md5 = Md5::new();
    let part = |md5: &mut Md5, bytes: &[u8]| {
        md5.update((bytes.len() as u32).to_be_bytes());
        md5.update(bytes);
    };
    for a in sorted {
        part(&mut md5, a.name.as_bytes());
        part(&mut md5, a.data_type.as_bytes());
        md5.update([if a.binary { 2u8 } else { 1u8 }]);
        part(&mut md5, a.value);
    }
    hex(&md5.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_digest_is_plain_md5() {
        assert_eq!(of_body(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(of_body("hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn attribute_digests_match_awss_encoding() {
        // Worked by hand from the documented encoding: name, type, transport, value.
        let mut expected = Vec::new();
        for (name, ty, transport, value) in
            [("a", "Binary", 2u8, &b"\x00\x01"[..]), ("b", "String", 1u8, &b"x"[..]), ("c", "Number", 1u8, &b"1"[..])]
        {
            expected.extend((name.len() as u32).to_be_bytes());
            expected.extend(name.as_bytes());
            expected.extend((ty.len() as u32).to_be_bytes());
            expected.extend(ty.as_bytes());
            expected.push(transport);
            expected.extend((value.len() as u32).to_be_bytes());
            expected.extend(value);
        }
        let attributes = [
            AttributeParts { name: "c", data_type: "Number", value: b"1", binary: false },
            AttributeParts { name: "a", data_type: "Binary", value: b"\x00\x01", binary: true },
            AttributeParts { name: "b", data_type: "String", value: b"x", binary: false },
        ];
        assert_eq!(of_attributes(&attributes), hex(&Md5::digest(&expected)));
    }

    /// Digests other SQS implementations' suites (moto's, LocalStack's) pin as AWS's.
    #[test]
    fn digests_agree_with_published_vectors() {
        let number = |name, value: &'static str| AttributeParts {
            name,
            data_type: "Number",
            value: value.as_bytes(),
            binary: false,
        };
        assert_eq!(of_attributes(&[number("timestamp", "1493147359900")]), "235c5c510d26fb653d073faed50ae77c");
        assert_eq!(of_attributes(&[number("timestamp", "1493147359901")]), "994258b45346a2cc3f9cbb611aa7af30");
        assert_eq!(
            of_attributes(&[number("SOME_Valid.attribute-Name", "1493147359900")]),
            "36655e7e9d7c0e8479fa3f3f42247ae7"
        );
        let mixed = [
            AttributeParts { name: "ccc", data_type: "String", value: b"testjunk", binary: false },
            AttributeParts { name: "aaa", data_type: "Binary", value: b"\x02\x03\x04", binary: true },
            number("zzz", "0230.01"),
            AttributeParts {
                name: "\u{f6}ther_encodings",
                data_type: "String",
                value: "T\u{fc}st".as_bytes(),
                binary: false,
            },
        ];
        assert_eq!(of_attributes(&mixed), "8ae21a7957029ef04146b42aeaa18a22");
        assert_eq!(of_body("derp"), "58fd9edd83341c29f1aebba81c31e257");
    }
}
