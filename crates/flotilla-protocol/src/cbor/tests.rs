use super::*;
use serde_json::json;

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn decoded(text: &str) -> Value {
    decode(&hex(text)).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn refused(text: &str) -> CborError {
    decode(&hex(text)).expect_err(text)
}

fn plain(value: &Value) -> Vec<u8> {
    encode(value, &CborOutput::NONE).unwrap()
}

#[test]
fn reads_requests_as_botocore_writes_them() {
    // CloudWatch PutMetricData, as botocore 1.44's RpcV2CBORSerializer writes it.
    let put = "a2694e616d657370616365634170706a4d65747269634461746181a76a4d65747269634e616d65634c61746a44696d656e7369\
               6f6e7381a2644e616d6564486f73746556616c756561616954696d657374616d70c11a65937d256556616c7565fb3ff800000000\
               00006656616c75657382fb3ff0000000000000fbc00200000000000066436f756e747382fb4008000000000000fb401000000000\
               00007153746f726167655265736f6c7574696f6e183c";
    assert_eq!(
        decoded(put),
        json!({"Namespace": "App", "MetricData": [{
            "MetricName": "Lat", "Dimensions": [{"Name": "Host", "Value": "a"}], "Timestamp": 1704164645,
            "Value": 1.5, "Values": [1.0, -2.25], "Counts": [3.0, 4.0], "StorageResolution": 60
        }]})
    );
    // GetMetricData: a timestamp with a fraction is a tagged double; -3 a negative integer.
    let get = "a4714d6574726963446174615175657269657381a36249646271316a45787072657373696f6e6653554d28782966506572696f\
               642269537461727454696d65c1fb41d964df4960000067456e6454696d65c11a65937d256d4d617844617461706f696e74731a00\
               0186a0";
    assert_eq!(
        decoded(get),
        json!({"MetricDataQueries": [{"Id": "q1", "Expression": "SUM(x)", "Period": -3}],
               "StartTime": 1704164645.5, "EndTime": 1704164645, "MaxDatapoints": 100000})
    );
    // NaN and the infinities are half floats, read as the strings botocore sends in JSON.
    let special = "a2694e616d657370616365634170706a4d65747269634461746181a36a4d65747269634e616d65616e6556616c7565f97e00\
                   6656616c75657382f97c00f9fc00";
    assert_eq!(
        decoded(special),
        json!({"Namespace": "App", "MetricData": [{"MetricName": "n", "Value": "NaN",
               "Values": ["Infinity", "-Infinity"]}]})
    );
}

#[test]
fn reads_integers_of_every_width_and_sign() {
    let cases: &[(&str, Value)] = &[
        ("00", json!(0)),
        ("17", json!(23)),
        ("1818", json!(24)),
        ("1903e8", json!(1000)),
        ("1a000f4240", json!(1_000_000)),
        ("1b000000e8d4a51000", json!(1_000_000_000_000u64)),
        ("1bffffffffffffffff", json!(u64::MAX)),
        ("20", json!(-1)),
        ("3863", json!(-100)),
        ("3903e7", json!(-1000)),
        ("3b7fffffffffffffff", json!(i64::MIN)),
    ];
    for (text, want) in cases {
        assert_eq!(&decoded(text), want, "{text}");
    }
    assert_eq!(refused("3b8000000000000000"), CborError::IntegerOutOfRange(1 << 63));
}

#[test]
fn reads_half_single_and_double_floats() {
    let cases: &[(&str, f64)] = &[
        ("f93c00", 1.0),
        ("f93e00", 1.5),
        ("f9c400", -4.0),
        ("f97bff", 65504.0),
        ("f90400", 2f64.powi(-14)),
        ("f90001", 2f64.powi(-24)),
        ("f903ff", 1023.0 * 2f64.powi(-24)),
        ("fa47c35000", 100_000.0),
        ("fa7f7fffff", f64::from(f32::MAX)),
        ("fa3fc00000", 1.5),
        ("fb3ff199999999999a", 1.1),
        ("fbc010666666666666", -4.1),
    ];
    for (text, want) in cases {
        assert_eq!(decoded(text).as_f64(), Some(*want), "{text}");
    }
    assert_eq!(decoded("f98000").as_f64().map(|f| f.is_sign_negative()), Some(true));
    assert_eq!(decoded("f90000"), json!(0.0));
    for (text, want) in [("f97e00", "NaN"), ("f97c00", "Infinity"), ("f9fc00", "-Infinity"), ("fa7fc00000", "NaN")] {
        assert_eq!(decoded(text), json!(want), "{text}");
    }
    assert_eq!(decoded("fb7ff0000000000000"), json!("Infinity"));
}

#[test]
fn reads_strings_blobs_simple_values_and_nested_items() {
    assert_eq!(decoded("60"), json!(""));
    assert_eq!(decoded("6449455446"), json!("IETF"));
    assert_eq!(decoded("62c3bc"), json!("ü"));
    assert_eq!(decoded("40"), json!(""));
    assert_eq!(decoded("4401020304"), json!("AQIDBA=="));
    assert_eq!(decoded("f4"), json!(false));
    assert_eq!(decoded("f5"), json!(true));
    assert_eq!(decoded("f6"), json!(null));
    assert_eq!(decoded("f7"), json!(null));
    assert_eq!(decoded("80"), json!([]));
    assert_eq!(decoded("a0"), json!({}));
    assert_eq!(decoded("8301820203820405"), json!([1, [2, 3], [4, 5]]));
    // {"a": {"b": {"c": [true, false, null]}}, "d": -1}
    assert_eq!(
        decoded("a2 6161 a1 6162 a1 6163 83 f5 f4 f6 6164 20"),
        json!({"a": {"b": {"c": [true, false, null]}}, "d": -1})
    );
}

#[test]
fn reads_indefinite_lengths() {
    assert_eq!(decoded("5f 42 0102 41 03 ff"), json!("AQID"));
    assert_eq!(decoded("5f ff"), json!(""));
    assert_eq!(decoded("7f 65 7374726561 64 6d696e67 ff"), json!("streaming"));
    assert_eq!(decoded("9f ff"), json!([]));
    assert_eq!(decoded("9f 01 82 0203 9f 0405 ff ff"), json!([1, [2, 3], [4, 5]]));
    assert_eq!(decoded("83 01 9f 0203 ff 82 0405"), json!([1, [2, 3], [4, 5]]));
    assert_eq!(decoded("bf 6161 01 6162 9f 0203 ff ff"), json!({"a": 1, "b": [2, 3]}));
    assert_eq!(decoded("bf 7f 6161 ff bf 6162 f5 ff ff"), json!({"a": {"b": true}}));
}

#[test]
fn reads_tag_1_as_epoch_seconds() {
    assert_eq!(decoded("c11a514b67b0"), json!(1_363_896_240));
    assert_eq!(decoded("c1fb41d452d9ec200000"), json!(1_363_896_240.5));
    assert_eq!(decoded("c1f93c00"), json!(1.0));
    assert_eq!(decoded("c120"), json!(-1));
    assert_eq!(refused("c16161"), CborError::BadTimestamp);
    assert_eq!(refused("c1f97e00"), CborError::BadTimestamp);
    assert_eq!(refused("c1c101"), CborError::BadTimestamp);
    assert_eq!(refused("c1"), CborError::Truncated);
    assert_eq!(refused("c074323031332d30332d32315432303a30343a30305a"), CborError::UnsupportedTag(0));
    assert_eq!(refused("c249010000000000000000"), CborError::UnsupportedTag(2));
}

#[test]
fn refuses_malformed_input() {
    let cases: &[(&str, CborError)] = &[
        ("", CborError::Truncated),
        ("18", CborError::Truncated),
        ("1a0001", CborError::Truncated),
        ("6261", CborError::Truncated),
        ("5b ffffffffffffffff 00", CborError::Truncated),
        ("9b ffffffffffffffff 00", CborError::Truncated),
        ("82 01", CborError::Truncated),
        ("a1 6161", CborError::Truncated),
        ("9f 01", CborError::Truncated),
        ("0102", CborError::Trailing(1)),
        ("a0 a0 a0", CborError::Trailing(2)),
        ("1c", CborError::Reserved(28)),
        ("5e", CborError::Reserved(30)),
        ("fc", CborError::Reserved(28)),
        ("1f", CborError::IndefiniteNotAllowed(0)),
        ("3f", CborError::IndefiniteNotAllowed(1)),
        ("df 01", CborError::IndefiniteNotAllowed(6)),
        ("ff", CborError::UnexpectedBreak),
        ("81 ff", CborError::UnexpectedBreak),
        ("a1 ff", CborError::UnexpectedBreak),
        ("5f 6161 ff", CborError::BadChunk),
        ("7f 4161 ff", CborError::BadChunk),
        ("5f 5f 4101 ff ff", CborError::BadChunk),
        ("5f 01 ff", CborError::BadChunk),
        ("62 c328", CborError::InvalidUtf8),
        ("7f 61 c3 61 bc ff", CborError::InvalidUtf8),
        ("a1 01 02", CborError::NonTextKey),
        ("a1 4161 02", CborError::NonTextKey),
        ("a2 6161 01 6161 02", CborError::DuplicateKey("a".into())),
        ("bf 6161 01 6161 02 ff", CborError::DuplicateKey("a".into())),
        ("f0", CborError::UnsupportedSimple(16)),
        ("f8 20", CborError::UnsupportedSimple(32)),
        ("f8", CborError::Truncated),
    ];
    for (text, want) in cases {
        assert_eq!(&refused(text), want, "{text}");
    }
}

#[test]
fn bounds_nesting() {
    let nested = |depth: usize| [vec![0x81; depth], vec![0x00]].concat();
    let mut value = decode(&nested(MAX_DEPTH)).unwrap();
    for _ in 0..MAX_DEPTH {
        value = value.as_array().unwrap()[0].clone();
    }
    assert_eq!(value, json!(0));
    assert_eq!(decode(&nested(MAX_DEPTH + 1)), Err(CborError::TooDeep));
    assert_eq!(decode(&[0xa1, 0x61, b'a'].repeat(MAX_DEPTH + 1)), Err(CborError::TooDeep));
    assert_eq!(decode(&[0xc1].repeat(MAX_DEPTH + 1)), Err(CborError::TooDeep));
    // A deep body does not exhaust the stack: it is refused at the limit.
    assert_eq!(decode(&vec![0x9f; 1 << 20]), Err(CborError::TooDeep));
}

#[test]
fn writes_json_item_for_item_in_the_shortest_form() {
    let cases: &[(Value, &str)] = &[
        (json!(0), "00"),
        (json!(23), "17"),
        (json!(24), "1818"),
        (json!(255), "18ff"),
        (json!(256), "190100"),
        (json!(65535), "19ffff"),
        (json!(65536), "1a00010000"),
        (json!(4_294_967_296u64), "1b0000000100000000"),
        (json!(u64::MAX), "1bffffffffffffffff"),
        (json!(-1), "20"),
        (json!(-24), "37"),
        (json!(-25), "3818"),
        (json!(-1000), "3903e7"),
        (json!(i64::MIN), "3b7fffffffffffffff"),
        (json!(1.5), "fb3ff8000000000000"),
        (json!(-4.1), "fbc010666666666666"),
        (json!(1.0), "fb3ff0000000000000"),
        (json!(true), "f5"),
        (json!(false), "f4"),
        (json!(null), "f6"),
        (json!(""), "60"),
        (json!("IETF"), "6449455446"),
        (json!("ü"), "62c3bc"),
        (json!([]), "80"),
        (json!([1, [2, 3]]), "8201820203"),
        (json!({}), "a0"),
        (json!({"a": {"b": [true]}}), "a16161a1616281f5"),
    ];
    for (value, want) in cases {
        assert_eq!(plain(value), hex(want), "{value}");
    }
    let long = "x".repeat(300);
    assert_eq!(&plain(&json!(long))[..3], &[0x79, 0x01, 0x2c]);
}

#[test]
fn writes_marked_members_as_timestamps_and_blobs() {
    let output = CborOutput { timestamps: &["At", "Times"], blobs: &["Data", "Chunks"] };
    let answer = json!({
        "At": 1_363_896_240,
        "Times": [1, 1.5],
        "Data": "AQID",
        "Chunks": ["", "AQ=="],
        "Deep": [{"At": 2, "Name": "At"}],
        "Other": 3
    });
    let want = hex("a6 6241 74 c1 1a514b67b0
            66 4368756e6b73 82 40 4101
            64 44617461 43 010203
            64 44656570 81 a2 6241 74 c1 02 64 4e616d65 6241 74
            65 4f74686572 03
            65 54696d6573 82 c1 01 c1 fb3ff8000000000000");
    assert_eq!(encode(&answer, &output).unwrap(), want);
    // A marked name whose value is not a number or text keeps its JSON form.
    assert_eq!(
        encode(&json!({"At": "soon", "Data": null}), &output).unwrap(),
        hex("a2 6241 74 64 736f6f6e 64 44617461 f6")
    );
    assert_eq!(encode(&json!({"Data": "not base64!"}), &output), Err(CborError::BadBlob("Data".into())));
}

#[test]
fn unmarked_answers_read_back_as_they_were_written() {
    let values = [
        json!({"__type": "ValidationException", "message": "bad"}),
        json!({"a": [1, -2, 3.25, "x", true, null, {"b": []}], "c": {"d": {"e": u64::MAX, "f": i64::MIN}}}),
        json!([0.1, -0.0, 1e300, -1e-300]),
    ];
    for value in values {
        assert_eq!(decode(&plain(&value)).unwrap(), value);
    }
    // Marked members read back as the JSON they were: epoch seconds and base64 text.
    let output = CborOutput { timestamps: &["t"], blobs: &["b"] };
    let value = json!({"t": [1_700_000_000, 1_700_000_000.25], "b": "AAEC/w=="});
    assert_eq!(decode(&encode(&value, &output).unwrap()).unwrap(), value);
}
