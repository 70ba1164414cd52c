//! Table-driven tests of filter patterns: each kind on matching and non-matching
//! messages (the examples of AWS's "Filter pattern syntax" page among them), the
//! rejected patterns, and a deterministic junk generator that parse must survive.

use super::{FilterError, FilterPattern};

fn parse(pattern: &str) -> FilterPattern {
    FilterPattern::parse(pattern).unwrap_or_else(|error| panic!("{pattern:?} should parse, got: {error}"))
}

/// Checks every `(pattern, message, expected)` row, reporting all failures at once.
fn check(rows: &[(&str, &str, bool)]) {
    let failures: Vec<String> = rows
        .iter()
        .filter(|(pattern, message, expected)| parse(pattern).matches(message) != *expected)
        .map(|(pattern, message, expected)| format!("{pattern:?} on {message:?}: expected {expected}"))
        .collect();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Checks one pattern against many messages.
fn check_one(pattern: &str, rows: &[(&str, bool)]) {
    let rows: Vec<(&str, &str, bool)> = rows.iter().map(|(message, expected)| (pattern, *message, *expected)).collect();
    check(&rows);
}

#[test]
fn empty_pattern_matches_everything() {
    for pattern in ["", "   ", "\t\n"] {
        for message in ["", "anything", "{\"a\":1}"] {
            assert!(parse(pattern).matches(message), "{pattern:?} on {message:?}");
        }
    }
}

mod terms {
    use super::*;

    #[test]
    fn aws_single_and_multiple_terms() {
        check(&[
            ("ERROR", "[ERROR 400] BAD REQUEST", true),
            ("ERROR", "[ERROR 401] UNAUTHORIZED REQUEST", true),
            ("ERROR", "[ERROR 419] MISSING ARGUMENTS", true),
            ("ERROR", "[ERROR 420] INVALID ARGUMENTS", true),
            ("ERROR", "Exiting with ERRORCODE: -1", true),
            ("ERROR", "[INFO] all good", false),
            ("ERROR", "[error] case matters", false),
            ("ERROR ARGUMENTS", "[ERROR 419] MISSING ARGUMENTS", true),
            ("ERROR ARGUMENTS", "[ERROR 420] INVALID ARGUMENTS", true),
            ("ERROR ARGUMENTS", "[ERROR 400] BAD REQUEST", false),
            ("ERROR ARGUMENTS", "[ERROR 401] UNAUTHORIZED REQUEST", false),
            ("ERROR Exception", "[ERROR] Caught IllegalArgumentException", true),
            ("ERROR Exception", "[ERROR] Unhandled Exception", true),
            ("ERROR Exception", "[WARN] Unhandled Exception", false),
            ("Failed to process the request", "[WARN] Failed to process the request", true),
            ("Failed to process the request", "[ERROR] Unable to continue: Failed to process the request", true),
            ("Failed to process the request", "[ERROR] Failed to process", false),
        ]);
    }

    #[test]
    fn aws_optional_terms() {
        check_one(
            "?ERROR ?ARGUMENTS",
            &[
                ("[ERROR 400] BAD REQUEST", true),
                ("[ERROR 401] UNAUTHORIZED REQUEST", true),
                ("[ERROR 419] MISSING ARGUMENTS", true),
                ("[INFO] MISSING ARGUMENTS", true),
                ("[INFO] REQUEST FAILED", false),
            ],
        );
        check_one("?ERROR ?WARN", &[("ERROR WARN message", true), ("ERROR message", true), ("WARN message", true)]);
        check_one("?ERROR ?WARN", &[("INFO message", false)]);
    }

    #[test]
    fn aws_optional_terms_are_ignored_beside_other_terms() {
        check_one(
            "?ERROR ?ARGUMENTS REQUEST",
            &[
                ("[INFO] REQUEST FAILED", true),
                ("[WARN] UNAUTHORIZED REQUEST", true),
                ("[ERROR] 400 BAD REQUEST", true),
                ("[ERROR 419] MISSING ARGUMENTS", false),
            ],
        );
        check_one("?ERROR -DEBUG", &[("[INFO] hello", true), ("[DEBUG] hello", false)]);
    }

    #[test]
    fn aws_exact_phrases() {
        check(&[
            ("\"INTERNAL SERVER ERROR\"", "[ERROR 500] INTERNAL SERVER ERROR", true),
            ("\"INTERNAL SERVER ERROR\"", "[ERROR 500] INTERNAL ERROR SERVER", false),
            ("\"INTERNAL SERVER ERROR\"", "[ERROR 500] INTERNAL  SERVER ERROR", false),
            ("\"BAD REQUEST\" 400", "[ERROR 400] BAD REQUEST", true),
            ("\"BAD REQUEST\" 401", "[ERROR 400] BAD REQUEST", false),
            (r#""say \"hi\"""#, r#"they say "hi" loudly"#, true),
            (r#""say \"hi\"""#, "they say hi loudly", false),
            (r#""back\\slash""#, r"a back\slash", true),
        ]);
    }

    #[test]
    fn aws_include_and_exclude() {
        check_one(
            "ERROR -ARGUMENTS",
            &[
                ("[ERROR 400] BAD REQUEST", true),
                ("[ERROR 401] UNAUTHORIZED REQUEST", true),
                ("[ERROR 419] MISSING ARGUMENTS", false),
                ("[ERROR 420] INVALID ARGUMENTS", false),
            ],
        );
        check_one("ERROR -WARN", &[("ERROR WARN message", false), ("ERROR message", true), ("WARN message", false)]);
        check_one("ERROR WARN", &[("ERROR WARN message", true), ("ERROR message", false), ("WARN message", false)]);
        check_one("-ERROR", &[("[INFO] fine", true), ("[ERROR] not fine", false)]);
        check_one(
            "\"ERROR\" - \"Exiting\"",
            &[("[ERROR] A fatal exception has occurred", true), ("Exiting with ERRORCODE: -1", false)],
        );
        check_one("-\"fatal exception\" ERROR", &[("[ERROR] A fatal exception", false), ("[ERROR] A fatal", true)]);
    }

    #[test]
    fn aws_match_everything_and_blank_phrases() {
        check(&[
            ("\" \"", "anything at all", true),
            ("\" \"", "", true),
            ("\"\"", "nospace", true),
            ("?\"\"", "whatever", true),
            ("ERROR \" \"", "ERROR", true),
            ("ERROR \" \"", "WARN", false),
        ]);
    }

    #[test]
    fn lenient_unquoted_symbols() {
        check(&[
            ("ERROR:", "ERROR: disk full", true),
            ("ERROR:", "ERROR disk full", false),
            ("user@example.com", "login by user@example.com", true),
            ("a{b}", "xa{b}y", true),
            ("%", "100%", true),
            ("ERROR -", "ERROR - x", true),
            ("ERROR -", "ERROR x", false),
            ("--verbose", "run --verbose", false),
            ("--verbose", "run quietly", true),
        ]);
    }
}

mod regexes {
    use super::*;

    #[test]
    fn aws_documented_operators() {
        check(&[
            ("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST", true),
            ("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST", true),
            ("%AUTHORIZED%", "[SUCCESS 200] authorized", false),
            ("%^[hc]at%", "hat trick", true),
            ("%^[hc]at%", "cat", true),
            ("%^[hc]at%", "that", false),
            ("%[hc]at$%", "a cat", true),
            ("%[hc]at$%", "cats", false),
            ("%colou?r%", "color", true),
            ("%colou?r%", "colour", true),
            ("%colou?r%", "colr", false),
            ("%[abc]%", "b", true),
            ("%[a-z]%", "Q7", false),
            ("%[abcx-z]%", "y", true),
            ("%[abcx-z]%", "d", false),
            ("%^a{3,5}$%", "aaa", true),
            ("%^a{3,5}$%", "aaaaa", true),
            ("%^a{3,5}$%", "aa", false),
            ("%^a{3,5}$%", "aaaaaa", false),
            ("%gra|ey%", "gray", true),
            ("%gra|ey%", "grey", true),
            ("%gra|ey%", "green", false),
            ("%^starting|^initializing|^shutting down%", "starting up", true),
            ("%^starting|^initializing|^shutting down%", "initializing x", true),
            ("%^starting|^initializing|^shutting down%", "shutting down now", true),
            ("%^starting|^initializing|^shutting down%", "skipping initializing x", false),
            ("%abcc|ab[^c]$%", "abcc x", true),
            ("%abcc|ab[^c]$%", "aba", true),
            ("%abcc|ab[^c]$%", "aac", false),
            (r"%\[.\]%", "[a]", true),
            (r"%\[.\]%", "[7]", true),
            (r"%\[.\]%", "[ab]", false),
            (r"%10\.10\.0\.1%", "10.10.0.1", true),
            (r"%10\.10\.0\.1%", "10010,051", false),
            ("%10.10.0.1%", "10010,051", true),
            ("%ab*c%", "ac", true),
            ("%ab*c%", "abbbc", true),
            ("%ab[0-9]*%", "ab129", true),
            ("%ab+c%", "abbc", true),
            ("%ab+c%", "ac", false),
            ("%.at%", " at", true),
            ("%.at%", "at", false),
        ]);
    }

    #[test]
    fn aws_character_classes_are_ascii() {
        check(&[
            (r"%\d%", "x7", true),
            (r"%\d%", "x\u{663}", false),
            (r"%\D%", "123", false),
            (r"%\D%", "12a", true),
            (r"%\s%", "a\tb", true),
            (r"%\s%", "a\u{2003}b", false),
            (r"%\S%", "   ", false),
            (r"%\w%", "é", false),
            (r"%\w%", "_", true),
            (r"%\W%", "abc_1", false),
            (r"%\x3A%", "a:b", true),
            (r"%\x3A%", "ab", false),
            (r"%^[\d.]+$%", "1.25", true),
            (r"%^[\d.]+$%", "1,25", false),
            (r"%^[^\d]+$%", "abc", true),
            (r"%^[^\d]+$%", "ab1", false),
            (r"%[\w-]%", "-", true),
            (r"%^[]a]+$%", "]a]", true),
            (r"%\\d%", r"\d", true),
        ]);
    }

    #[test]
    fn aws_repetition_spellings() {
        check(&[
            ("%^a{3, 5}$%", "aaaa", true),
            ("%^a{,2}b$%", "aab", true),
            ("%^a{,2}b$%", "b", true),
            ("%^a{,2}b$%", "aaab", false),
            ("%^a{2,}$%", "aaaaaaa", true),
            ("%^a{2,}$%", "a", false),
            ("%^a{ 2 }$%", "aa", true),
            (r"%^\{,\}$%", "{,}", true),
            ("%[{,]%", ",", true),
            ("%[{,]%", "0", false),
        ]);
    }
}

mod json {
    use super::*;

    /// AWS's example event, on one line.
    const TRAIL: &str = r#"{"eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": null, "ThisFlag": true, "cluster.name": "c"}"#;

    /// AWS's example event for compound expressions.
    const USERS: &str = r#"{"user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]}"#;

    const NUMBERS: &str = r#"{"bandwidth": 80, "latency": 49.5, "refreshRate": 60, "responseTime": 5,
        "errorCode": 400, "number": [1000, 0.001], "big": -2.5e3, "text": "150", "version": "1.0.3"}"#;

    #[test]
    fn aws_string_examples() {
        check(&[
            (r#"{ $.eventType = "UpdateTrail" }"#, TRAIL, true),
            (r#"{ $.eventType = "UpdateTrai" }"#, TRAIL, false),
            (r#"{ $.eventType = "updatetrail" }"#, TRAIL, false),
            ("{ $.eventType = UpdateTrail }", TRAIL, true),
            (r#"{ $.eventType != "UpdateTrail" }"#, TRAIL, false),
            ("{ $.sourceIPAddress != 123.123.* }", TRAIL, true),
            ("{ $.sourceIPAddress = 111.111.* }", TRAIL, true),
            ("{ $.sourceIPAddress != 111.* }", TRAIL, false),
            (r#"{ $.arrayKey[0] = "value" }"#, TRAIL, true),
            (r#"{ $.arrayKey[1] = "value" }"#, TRAIL, false),
            (r#"{ $.arrayKey[9] != "value" }"#, TRAIL, false),
            ("{ $.objectList[1].id = 2 }", TRAIL, true),
            ("{ $.objectList[0].id = 2 }", TRAIL, false),
            ("{ $.objectList[5].id = 2 }", TRAIL, false),
            (r#"{ $.['cluster.name'] = "c" }"#, TRAIL, true),
            (r#"{ $["cluster.name"] = "c" }"#, TRAIL, true),
            (r#"{ $.cluster.name = "c" }"#, TRAIL, false),
        ]);
    }

    #[test]
    fn aws_regex_and_wildcard_examples() {
        check(&[
            ("{ $.eventType = %Trail% }", TRAIL, true),
            ("{ $.eventType = %^Trail% }", TRAIL, false),
            ("{ $.eventType != %^Trail% }", TRAIL, true),
            ("{ $.arrayKey[*] = %val.{2}% }", TRAIL, true),
            ("{ $.arrayKey[*] = %^nothing% }", TRAIL, false),
            (r"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }", TRAIL, true),
            (r"{ $.* = %222\.% }", TRAIL, false),
            (r#"{ $.objectList[*].name = "b" }"#, TRAIL, true),
            (r#"{ $.objectList[*].name = "z" }"#, TRAIL, false),
            (r#"{ $.objectList.*.name = "a" }"#, TRAIL, true),
        ]);
    }

    #[test]
    fn aws_is_and_not_exists_examples() {
        check(&[
            ("{ $.SomeObject IS NULL }", TRAIL, true),
            ("{ $.eventType IS NULL }", TRAIL, false),
            ("{ $.SomeOtherObject IS NULL }", TRAIL, false),
            ("{ $.SomeOtherObject NOT EXISTS }", TRAIL, true),
            ("{ $.SomeObject NOT EXISTS }", TRAIL, false),
            ("{ $.objectList[7] NOT EXISTS }", TRAIL, true),
            ("{ $.eventType.deeper NOT EXISTS }", TRAIL, true),
            ("{ $.ThisFlag IS TRUE }", TRAIL, true),
            ("{ $.ThisFlag IS FALSE }", TRAIL, false),
            ("{ $.eventType IS TRUE }", TRAIL, false),
            ("{ $.ThisFlag is true }", TRAIL, true),
            ("{ $.ThisFlag = true }", TRAIL, true),
        ]);
    }

    #[test]
    fn aws_compound_examples() {
        check(&[
            (r#"{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }"#, USERS, true),
            (
                r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nonmatch" }"#,
                USERS,
                true,
            ),
            (
                r#"{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") && $.actions[2] = "nonmatch" }"#,
                USERS,
                false,
            ),
            (
                "{ $.user.email = \"John.Stiles@example.com\" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }",
                USERS,
                true,
            ),
            (r#"{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }"#, USERS, false),
            (r#"{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[0] = "GET" }"#, USERS, true),
            ("{ $.coordinates[1][2] = 6 }", USERS, true),
            ("{ (($.user.id = 1)) }", USERS, true),
            ("{$.foo = bar}", r#"{"foo": "bar"}"#, true),
            ("{$.foo = baz }", r#"{"foo": "bar"}"#, false),
            ("{$.foo = bar || $.foo = baz }", r#"{"foo": "bar"}"#, true),
            ("{$.foo = bar || $.foo = baz }", r#"{"foo": "baz"}"#, true),
            ("{$.foo = bar || $.foo = baz }", r#"{"foo": "qux"}"#, false),
        ]);
    }

    #[test]
    fn aws_numeric_examples() {
        check(&[
            ("{ $.bandwidth > 75 }", NUMBERS, true),
            ("{ $.bandwidth > 80 }", NUMBERS, false),
            ("{ $.latency < 50 }", NUMBERS, true),
            ("{ $.latency < 49.5 }", NUMBERS, false),
            ("{ $.refreshRate >= 60 }", NUMBERS, true),
            ("{ $.responseTime <= 5 }", NUMBERS, true),
            ("{ $.responseTime <= 4.99 }", NUMBERS, false),
            ("{ $.errorCode = 400}", NUMBERS, true),
            ("{ $.errorCode != 500 }", NUMBERS, true),
            ("{ $.errorCode != 400 }", NUMBERS, false),
            ("{ $.number[0] = 1e+3 }", NUMBERS, true),
            ("{ $.number[0] = 10E2 }", NUMBERS, true),
            ("{ $.number[1] = 1e-3 }", NUMBERS, true),
            ("{ $.number[1] != 1e-3 }", NUMBERS, false),
            ("{ $.number[0] < 10e3 }", NUMBERS, true),
            ("{ $.latency > +10 }", NUMBERS, true),
            ("{ $.big < -2e3 }", NUMBERS, true),
            ("{ $.big = -2500 }", NUMBERS, true),
            ("{ $.big = -.25e4 }", NUMBERS, true),
            ("{ $.errorCode = 4* }", NUMBERS, true),
            ("{ $.errorCode = 5* }", NUMBERS, false),
            ("{ $.latency = * }", NUMBERS, true),
            ("{ $.missing = * }", NUMBERS, false),
            ("{ $.missing != 5 }", NUMBERS, false),
            ("{ $.text > 100 }", NUMBERS, true),
            ("{ $.version = 1.0 }", NUMBERS, false),
            ("{ $.version != 1.0 }", NUMBERS, true),
            ("{ $.version > 1 }", NUMBERS, false),
            (r#"{ $.errorCode > "399" }"#, NUMBERS, true),
            (r#"{ $.errorCode = "400" }"#, NUMBERS, true),
        ]);
    }

    #[test]
    fn wildcards_in_string_values() {
        check(&[
            ("{ $.eventType = *Trail }", TRAIL, true),
            ("{ $.eventType = Update* }", TRAIL, true),
            ("{ $.eventType = *date* }", TRAIL, true),
            (r#"{ $.eventType = "*date*" }"#, TRAIL, true),
            ("{ $.eventType = Up*Trail }", TRAIL, false),
            ("{ $.star = Ev*ent }", r#"{"star": "Ev*ent"}"#, true),
            (r#"{ $.eventType = "*" }"#, TRAIL, true),
            ("{ $.SomeObject = * }", TRAIL, false),
            ("{ $.objectList = * }", TRAIL, false),
        ]);
    }

    #[test]
    fn arrays_and_objects_never_compare() {
        let users = r#"{"users": [1, 2, 3], "obj": {"a": 1}}"#;
        check(&[
            ("{ $.users = 1 }", users, false),
            ("{ $.users != 1 }", users, false),
            ("{ $.obj != 1 }", users, false),
            ("{ $.obj IS NULL }", users, false),
        ]);
    }

    #[test]
    fn non_json_messages_never_match() {
        for message in ["eventType UpdateTrail", "", "{not json", "{\"a\": 1", "{\"a\": 1} trailing"] {
            for pattern in ["{ $.eventType = \"UpdateTrail\" }", "{ $.a NOT EXISTS }", "{ $.a != 5 }"] {
                assert!(!parse(pattern).matches(message), "{pattern:?} on {message:?}");
            }
        }
        let deep = "[".repeat(100_000);
        assert!(!parse("{ $.a NOT EXISTS }").matches(&deep));
    }

    #[test]
    fn selectors_reach_into_root_arrays_and_odd_keys() {
        check(&[
            ("{ $[1] = 2 }", "[1, 2]", true),
            ("{ $.a-b_c = 1 }", r#"{"a-b_c": 1}"#, true),
            (r#"{ $.['a b'] = 1 }"#, r#"{"a b": 1}"#, true),
            (r#"{ $.['x=y'] = 1 }"#, r#"{"x=y": 1}"#, true),
            (r#"{ $.unicodé = "ü" }"#, r#"{"unicodé": "ü"}"#, true),
        ]);
    }
}

mod delimited {
    use super::*;

    const APACHE_404: &str = r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
    const APACHE_410: &str = r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 410 12"#;
    const APACHE_403: &str = r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 403 1534"#;
    const APACHE_200: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#;
    const APACHE_500: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324"#;

    const GET_TOP: &str = "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200";
    const POST_CHILD: &str = "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310";

    #[test]
    fn aws_field_conditions() {
        check(&[
            (
                r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
                APACHE_404,
                true,
            ),
            (
                r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
                APACHE_200,
                false,
            ),
            ("[..., request =*.html*, status_code = 4*, bytes]", APACHE_404, true),
            ("[..., request =*.html*, status_code = 4*, bytes]", APACHE_500, false),
            (
                "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
                APACHE_410,
                true,
            ),
            (
                "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
                APACHE_403,
                false,
            ),
            ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", APACHE_200, true),
            ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", APACHE_410, false),
            ("[ip, user, username, timestamp, request, status_code = 200, bytes]", APACHE_200, true),
            ("[ip, user, username, timestamp, request, status_code = 200, bytes]", APACHE_500, false),
            ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", APACHE_404, true),
            ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", APACHE_200, false),
            (
                "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]",
                APACHE_404,
                true,
            ),
            (
                "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]",
                APACHE_403,
                false,
            ),
            (r#"[ip, user, username, timestamp, request = "*html*", status_code = 4*, bytes]"#, APACHE_404, true),
            ("[..., status_code = 404, size]", APACHE_404, true),
            ("[..., status_code = 404, size]", APACHE_200, false),
            ("[..., request=*.html*, status_code=4*,]", APACHE_404, true),
        ]);
    }

    #[test]
    fn aws_ellipsis_and_field_counts() {
        check(&[
            ("[ip, user, username, timestamp, request, status_code, bytes]", APACHE_200, true),
            ("[ip, user, username, timestamp, request, status_code]", APACHE_200, false),
            ("[ip, user, username, timestamp, request, status_code, bytes, extra]", APACHE_200, false),
            ("[..., status_code, bytes]", APACHE_200, true),
            ("[ip, user, ..., status_code, bytes]", APACHE_200, true),
            ("[ip, user, ...]", APACHE_200, true),
            ("[ip, user, ...]", "onlyone", false),
            ("[...]", "", true),
            ("[..., …]", "a b", true),
            ("[a, ..., b, ..., c]", "a b", false),
            ("[a, ..., b, ..., c]", "a b c", true),
            ("[..., method = POST, ...]", POST_CHILD, true),
            ("[..., method = POST, ...]", GET_TOP, false),
            ("[a, b]", "  x    y  ", true),
            ("[a, b]", "x\ty\n", true),
            ("[a]", "", false),
        ]);
    }

    #[test]
    fn quoted_and_bracketed_fields_are_single_fields() {
        check(&[
            (
                r#"[ip, user, username, timestamp = "10/Oct/2000:13:25:15 -0700", request = "GET /index.html HTTP/1.0", status_code, bytes]"#,
                APACHE_404,
                true,
            ),
            ("[a, b = x]", r#""a b c"x"#, true),
            ("[a, b]", r#""x y"#, true),
            ("[a, b, c]", "[x y z] [1 2] 3", true),
            ("[a = \"\", b]", r#""" x"#, true),
        ]);
    }

    #[test]
    fn aws_ordered_terms() {
        let messages = ["ERROR WARN message", "ERROR message", "WARN message", "INFO message"];
        let rows: [(&str, [bool; 4]); 4] = [
            ("[w1=ERROR, w2]", [false, true, false, false]),
            ("[w1=ERROR || w1=WARN, w2]", [false, true, true, false]),
            ("[w1!=ERROR && w1!=WARN, w2]", [false, false, false, true]),
            ("[(w1=ERROR || w1=WARN) && w1 != WARN, w2]", [false, true, false, false]),
        ];
        for (pattern, expected) in rows {
            let table: Vec<(&str, bool)> = messages.iter().copied().zip(expected).collect();
            check_one(pattern, &table);
        }
    }

    #[test]
    fn aws_resource_uri_examples() {
        check(&[
            ("[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]", GET_TOP, true),
            ("[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]", POST_CHILD, false),
            (
                "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
                POST_CHILD,
                true,
            ),
            (
                "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
                GET_TOP,
                false,
            ),
        ]);
    }

    #[test]
    fn numeric_comparisons_on_fields() {
        check(&[
            ("[a > 5]", "abc", false),
            ("[a != 5]", "abc", true),
            ("[a = 5]", "5.0", true),
            ("[a = 5]", "5x", false),
            ("[a >= -1.5e2]", "-150", true),
            ("[a < 1e3]", "999.9", true),
        ]);
    }
}

mod errors {
    use super::*;

    fn error_of(pattern: &str) -> FilterError {
        match FilterPattern::parse(pattern) {
            Ok(parsed) => panic!("{pattern:?} should be rejected, parsed as {parsed:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn exact_errors() {
        let rows: Vec<(&str, FilterError)> = vec![
            ("\"unterminated", FilterError::UnterminatedQuote),
            ("ERROR \"x", FilterError::UnterminatedQuote),
            ("\"trailing backslash\\", FilterError::UnterminatedQuote),
            ("{ $.a = \"x }", FilterError::UnterminatedQuote),
            ("{ $.a = 1", FilterError::Unbalanced('{')),
            ("{ $.a = 1 } extra", FilterError::Unbalanced('{')),
            ("[a, b", FilterError::Unbalanced('[')),
            ("{ ($.a = 1 }", FilterError::Unbalanced('(')),
            ("{ $.a = 1) }", FilterError::Unbalanced(')')),
            ("{ $.a = %abc }", FilterError::Unbalanced('%')),
            ("{ $.a == 1 }", FilterError::UnknownOperator("==".to_owned())),
            ("{ $.a => 1 }", FilterError::UnknownOperator("=>".to_owned())),
            ("{ $.a LIKE 1 }", FilterError::UnknownOperator("LIKE".to_owned())),
            ("{ $.a = 1 & $.b = 2 }", FilterError::UnknownOperator("&".to_owned())),
            ("{ $.a = 1 ||| $.b = 2 }", FilterError::UnknownOperator("|||".to_owned())),
            ("[a <> 1]", FilterError::UnknownOperator("<>".to_owned())),
            ("[a ~ 1]", FilterError::UnknownOperator("~".to_owned())),
            ("[a b]", FilterError::UnknownOperator("b".to_owned())),
            ("%something!%", FilterError::InvalidCharacter("%something!%".to_owned())),
            ("%(ab)+%", FilterError::InvalidCharacter("%(ab)+%".to_owned())),
            (r"%\(%", FilterError::InvalidCharacter(r"%\(%".to_owned())),
            ("%café%", FilterError::InvalidCharacter("%café%".to_owned())),
            ("%a%b%", FilterError::InvalidCharacter("%a%b%".to_owned())),
            ("foo\"bar", FilterError::InvalidCharacter("foo\"bar".to_owned())),
            ("\"foo\"bar", FilterError::InvalidCharacter("\"foo\"bar".to_owned())),
            ("{ $. = 1 }", FilterError::EmptySelector),
            ("{ $ = 1 }", FilterError::EmptySelector),
            ("{ $.a..b = 1 }", FilterError::InvalidSelector("$.a..b".to_owned())),
            ("{ $.a[x] = 1 }", FilterError::InvalidSelector("$.a[x]".to_owned())),
            ("{ $.a[-1] = 1 }", FilterError::InvalidSelector("$.a[-1]".to_owned())),
            ("{ $.a['b] = 1 }", FilterError::InvalidSelector("$.a['b] = 1 ".to_owned())),
            ("{ $a = 1 }", FilterError::InvalidSelector("$a".to_owned())),
            (
                "{ $.a[99999999999999999999999] = 1 }",
                FilterError::InvalidSelector("$.a[99999999999999999999999]".to_owned()),
            ),
            ("{ $.a IS NOT NULL }", FilterError::Unsupported("IS NOT".to_owned())),
            ("{ $.a EXISTS }", FilterError::Unsupported("EXISTS".to_owned())),
            ("[a IS NULL]", FilterError::Unsupported("IS in a space-delimited pattern".to_owned())),
        ];
        let failures: Vec<String> = rows
            .iter()
            .filter_map(|(pattern, expected)| {
                let actual = FilterPattern::parse(pattern).err();
                (actual.as_ref() != Some(expected))
                    .then(|| format!("{pattern:?}: expected {expected:?}, got {actual:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn syntax_errors() {
        let deep = format!("{{ {}$.a = 1{} }}", "(".repeat(40), ")".repeat(40));
        let patterns = [
            "{ $.a IS MAYBE }",
            "{ $.a IS }",
            "{ $.a NOT THERE }",
            "{ $.a > abc }",
            "{ $.a > \"abc\" }",
            "{ $.a > %x% }",
            "{ a = 1 }",
            "{ \"a\" = 1 }",
            "{ }",
            "{ $.a = }",
            "{ $.a }",
            "{ $.a = ( }",
            "{ $.a = 1 && }",
            "{ && $.a = 1 }",
            "{ $.a = 1 $.b = 2 }",
            "{ $.a = 1, $.b = 2 }",
            "{ () }",
            &deep,
            "[]",
            "[   ]",
            "[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]",
            "[..., ... = 5]",
            "[a = ]",
            "[= 5]",
            "[a = 1 b]",
        ];
        let failures: Vec<String> = patterns
            .iter()
            .filter_map(|pattern| match FilterPattern::parse(pattern) {
                Err(FilterError::Syntax(_)) => None,
                other => Some(format!("{pattern:?}: expected a syntax error, got {other:?}")),
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn regex_errors() {
        for pattern in ["%[a%", "%a{2%", "%%", "%*a%", r"%a\%", "{ $.a = %[% }", "[a = %a{3,1}%]"] {
            assert!(
                matches!(error_of(pattern), FilterError::InvalidRegex { .. }),
                "{pattern:?}: {:?}",
                error_of(pattern)
            );
        }
        let FilterError::InvalidRegex { regex, reason } = error_of("%[a%") else { unreachable!() };
        assert_eq!(regex, "[a");
        assert!(!reason.contains('\n') && !reason.is_empty(), "{reason:?}");
        assert!(matches!(error_of("%a{1000}{1000}{1000}%"), FilterError::InvalidRegex { .. }));
    }

    #[test]
    fn quota_errors() {
        let patterns = [
            "{ $.a.*.b[*] = 1 }",
            "{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 || $.d[*] = 1 }",
            "{ $.a = %a% || $.b = %b% || $.c = %c% }",
            "[a = %a%, b = %b%, c = %c%]",
            "[a = %a% || a = %b% || a = %c%]",
        ];
        for pattern in patterns {
            assert!(matches!(error_of(pattern), FilterError::LimitExceeded(_)), "{pattern:?}: {:?}", error_of(pattern));
        }
        parse("{ $.a[*] = 1 || $.b[*] = 1 || $.c.* = 1 }");
        parse("{ $.a = %a% || $.b = %b% }");
    }

    #[test]
    fn messages_read_like_aws() {
        assert_eq!(FilterError::Unbalanced('{').to_string(), "Invalid filter pattern: unbalanced '{'");
        assert_eq!(error_of("%something!%").to_string(), "Invalid character(s) in term '%something!%'");
        assert_eq!(error_of("{ $.a == 1 }").to_string(), "Invalid filter pattern: unknown operator '=='");
        assert_eq!(error_of("{ $.a IS NOT NULL }").to_string(), "Invalid filter pattern: IS NOT is not supported");
        for pattern in ["\"x", "{ $. = 1 }", "{ }", "%[%", "{ $.a = %a% || $.b = %b% || $.c = %c% }"] {
            assert!(error_of(pattern).to_string().starts_with("Invalid filter pattern: "), "{pattern:?}");
        }
    }
}

/// A small deterministic generator of junk (xorshift64*), so the test needs no dependencies.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound.max(1) as u64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items.get(self.below(items.len())).copied().unwrap_or("")
    }

    fn string(&mut self, pieces: &[&str], max_pieces: usize) -> String {
        (0..self.below(max_pieces + 1)).map(|_| self.pick(pieces)).collect()
    }

    /// `seed` with a few characters inserted, deleted or replaced, or cut short.
    fn mutate(&mut self, seed: &str) -> String {
        let mut chars: Vec<char> = seed.chars().collect();
        for _ in 0..=self.below(3) {
            let at = self.below(chars.len() + 1);
            let piece: Vec<char> = self.pick(PATTERN_PIECES).chars().collect();
            match self.below(4) {
                0 => drop(chars.splice(at..at, piece)),
                1 if at < chars.len() => drop(chars.remove(at)),
                2 if at < chars.len() => drop(chars.splice(at..=at, piece)),
                _ => chars.truncate(at),
            }
        }
        chars.into_iter().collect()
    }
}

const PATTERN_PIECES: &[&str] = &[
    "{", "}", "[", "]", "(", ")", "\"", "\\", "%", "$", ".", "*", "?", "-", "=", "!", "<", ">", "&", "|", ",", " ",
    "a", "1", "e", "'", "…", "é", "\u{0}", "\t", "$.a", "$.b[0]", "$.*", "[*]", "['k']", "...", "IS", "NOT", "EXISTS",
    "TRUE", "NULL", "&&", "||", "!=", ">=", "{,", "{2,", "\\d", "%x%", "%[a-z]+%", "404", "-1.5e3", "ERROR", "\"a b\"",
];

const MESSAGE_PIECES: &[&str] = &[
    "{", "}", "[", "]", "\"", "\\", " ", "  ", "\t", "a", "1", "-2.5", "ERROR", ":", ",", "null", "true", "é", "\u{0}",
];

const MESSAGES: &[&str] = &[
    "",
    "ERROR something failed",
    r#"{"a": 1, "b": [1, "x", {"c": null}], "k": "v", "e": true}"#,
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /x HTTP/1.0" 404 1534"#,
    "[unclosed \"quote",
    "ünïcödé ☃ 42",
];

#[test]
fn parse_never_panics_on_junk() {
    let mut junk = Junk(0x9e37_79b9_7f4a_7c15);
    let wrappers: [(&str, &str); 5] = [("", ""), ("{", "}"), ("[", "]"), ("%", "%"), ("{ $.a = ", " }")];
    let mut accepted = 0;
    for _ in 0..600 {
        let (open, close) = wrappers.get(junk.below(wrappers.len())).copied().unwrap_or(("", ""));
        let pattern = format!("{open}{}{close}", junk.string(PATTERN_PIECES, 24));
        if let Ok(parsed) = FilterPattern::parse(&pattern) {
            accepted += 1;
            for message in MESSAGES {
                parsed.matches(message);
            }
            parsed.matches(&junk.string(MESSAGE_PIECES, 40));
        }
    }
    assert!(accepted > 50, "the generator should produce some valid patterns too, got {accepted}");
}

#[test]
fn parse_never_panics_on_mutated_valid_patterns() {
    let seeds = [
        "ERROR -ARGUMENTS ?WARN \"INTERNAL SERVER ERROR\"",
        r"%^[hc]at\d{1, 3}[\w-]$%",
        r#"{ ($.user.id = 1 || $.a[*] != %x.y%) && $.['k.j'][0] IS TRUE && $.b NOT EXISTS && $.n >= -1.5e3 }"#,
        r#"[ip=%127\.0\.0\.[1-9]%, ..., request = "*html*", status_code = 4* && status_code != 403, bytes > 1000]"#,
    ];
    let mut junk = Junk(7);
    let mut accepted = 0;
    for round in 0..800 {
        let seed = seeds.get(round % seeds.len()).copied().unwrap_or("");
        let pattern = junk.mutate(seed);
        if let Ok(parsed) = FilterPattern::parse(&pattern) {
            accepted += 1;
            for message in MESSAGES {
                parsed.matches(message);
            }
        }
    }
    assert!(accepted > 50, "some mutants should still parse, got {accepted}");
}

#[test]
fn matching_never_panics_on_junk_messages() {
    let patterns = [
        "ERROR",
        "%[a-z]+%",
        "{ $.a = 1 || $.b[*] = x* }",
        "[a, ..., b = %1%]",
        "[a, b, c]",
        "[..., x != 1]",
        "{ $.* NOT EXISTS }",
    ];
    let parsed: Vec<FilterPattern> = patterns.iter().map(|pattern| parse(pattern)).collect();
    let mut junk = Junk(42);
    for _ in 0..400 {
        let message = junk.string(MESSAGE_PIECES, 60);
        for pattern in &parsed {
            pattern.matches(&message);
        }
    }
}

#[test]
fn patterns_are_cloneable_and_debuggable() {
    let pattern = parse("{ $.a = 1 }");
    let copy = pattern.clone();
    assert!(copy.matches(r#"{"a": 1}"#));
    assert!(format!("{pattern:?}").contains("FilterPattern"));
}
