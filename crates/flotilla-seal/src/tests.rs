use std::os::unix::fs::PermissionsExt;

use super::*;

fn sealer() -> Sealer {
    Sealer::from_key([7; 32])
}

#[test]
fn round_trip() {
    let s = sealer();
    let sealed = s.seal(b"hunter2", b"arn:aws:ssm:us-east-1:000000000000:parameter/a#1");
    assert_eq!(sealed[0], 1);
    assert_eq!(sealed.len(), 1 + 12 + 7 + 16);
    assert_eq!(s.open(&sealed, b"arn:aws:ssm:us-east-1:000000000000:parameter/a#1").unwrap(), b"hunter2");
    assert_eq!(s.open(&s.seal(b"", b""), b"").unwrap(), b"");
}

#[test]
fn fresh_nonce_each_time() {
    let s = sealer();
    assert_ne!(s.seal(b"x", b"c"), s.seal(b"x", b"c"));
}

#[test]
fn wrong_context_fails() {
    let s = sealer();
    let sealed = s.seal(b"hunter2", b"record-a");
    assert!(matches!(s.open(&sealed, b"record-b"), Err(SealError::Authentication)));
}

#[test]
fn tampered_byte_fails() {
    let s = sealer();
    let sealed = s.seal(b"hunter2", b"c");
    for i in 1..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        assert!(matches!(s.open(&bad, b"c"), Err(SealError::Authentication)), "byte {i}");
    }
    let mut bad = sealed.clone();
    bad[0] = 2;
    assert!(matches!(s.open(&bad, b"c"), Err(SealError::UnknownVersion(2))));
    assert!(matches!(s.open(&sealed[..20], b"c"), Err(SealError::TooShort(20))));
}

#[test]
fn wrong_key_fails() {
    let sealed = sealer().seal(b"hunter2", b"c");
    assert!(matches!(Sealer::from_key([8; 32]).open(&sealed, b"c"), Err(SealError::Authentication)));
}

#[test]
fn debug_hides_the_key() {
    let shown = format!("{:?}", Sealer::from_key([0xab; 32]));
    assert!(!shown.contains("171") && !shown.to_lowercase().contains("ab, "), "{shown}");
    assert!(shown.contains("redacted"));
}

#[test]
fn key_file_created_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Sealer::load_or_create(dir.path()).unwrap();
    let path = dir.path().join(KEY_FILE);
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let key = std::fs::read(&path).unwrap();
    // Only the key is left behind, no temporary file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let second = Sealer::load_or_create(dir.path()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), key);
    let sealed = first.seal(b"v", b"c");
    assert_eq!(second.open(&sealed, b"c").unwrap(), b"v");
}

#[test]
fn concurrent_creation_agrees_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let sealers: Vec<Sealer> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| Sealer::load_or_create(dir.path()).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sealed = sealers[0].seal(b"v", b"c");
    for s in &sealers {
        assert_eq!(s.open(&sealed, b"c").unwrap(), b"v");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_bad_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
    assert!(matches!(Sealer::load_or_create(dir.path()), Err(SealError::BadKey { len: 5, .. })));
    std::fs::write(dir.path().join(KEY_FILE), [0u8; 40]).unwrap();
    assert!(matches!(Sealer::load_or_create(dir.path()), Err(SealError::BadKey { len: 33, .. })));
}
