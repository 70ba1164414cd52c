//! The evaluation, table-driven: AWS's two worked tables, every operator, every
//! missing-data setting, INSUFFICIENT_DATA, percentiles, and the reason texts.

use super::*;
use StateValue::{Alarm, InsufficientData, Ok};

/// 2026-11-30T10:00:00Z.
const T0: i64 = 1_796_032_800_000;
const MINUTE: i64 = 60_000;

fn rule(n: usize, m: usize, treat: TreatMissing) -> Rule {
    Rule {
        comparison: Comparison::GreaterThanThreshold,
        threshold: 50.0,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        treat_missing: treat,
        period_seconds: 60,
        stat: "Maximum".into(),
        unit: None,
        low_sample_ignore: None,
    }
}

/// A range written as AWS's tables write it, oldest first: `0` fine, `X`
/// breaching, `-` missing; one period a minute from T0.
fn range(pattern: &str) -> Vec<Point> {
    pattern
        .split_whitespace()
        .enumerate()
        .map(|(i, c)| {
            let start = T0 + i as i64 * MINUTE;
            match c {
                "0" => Point::value(start, 10.0),
                "X" => Point::value(start, 85.0),
                "-" => Point::missing(start),
                other => panic!("bad slot {other}"),
            }
        })
        .collect()
}

/// What a table cell says: a state, or the state kept.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    S(StateValue),
    Retain,
}
use Cell::{Retain, S};

const TREATMENTS: [TreatMissing; 4] =
    [TreatMissing::Missing, TreatMissing::Ignore, TreatMissing::Breaching, TreatMissing::NotBreaching];

fn check_table(n: usize, m: usize, rows: &[(&str, [Cell; 4])]) {
    for (pattern, cells) in rows {
        for (treat, cell) in TREATMENTS.iter().zip(cells) {
            // Each row from two different states, so a kept state shows.
            for current in [Ok, Alarm] {
                let got = evaluate(&rule(n, m, *treat), current, &range(pattern), T0 + 10 * MINUTE).state;
                let want = match cell {
                    S(s) => *s,
                    Retain => current,
                };
                assert_eq!(got, want, "{m} of {n}, {pattern}, {treat:?}, from {current}");
            }
        }
    }
}

#[test]
fn aws_table_three_of_three() {
    check_table(
        3,
        3,
        &[
            ("0 - X - X", [S(Ok), S(Ok), S(Ok), S(Ok)]),
            ("0 - - - -", [S(Ok), S(Ok), S(Ok), S(Ok)]),
            ("- - - - -", [S(InsufficientData), Retain, S(Alarm), S(Ok)]),
            ("0 X X - X", [S(Alarm), S(Alarm), S(Alarm), S(Alarm)]),
            ("- - X - -", [S(Alarm), Retain, S(Alarm), S(Ok)]),
        ],
    );
}

#[test]
fn aws_table_two_of_three() {
    check_table(
        3,
        2,
        &[
            ("0 - X - X", [S(Alarm), S(Alarm), S(Alarm), S(Alarm)]),
            ("0 0 X 0 X", [S(Alarm), S(Alarm), S(Alarm), S(Alarm)]),
            ("0 - X - -", [S(Ok), S(Ok), S(Alarm), S(Ok)]),
            ("- - - - 0", [S(Ok), S(Ok), S(Alarm), S(Ok)]),
            ("- - - X -", [S(Alarm), Retain, S(Alarm), S(Ok)]),
        ],
    );
}

#[test]
fn a_recent_lone_breach_is_not_a_premature_alarm() {
    // AWS: "the alarm does not go immediately into ALARM state when the data is
    // either - - - - X or - - - X - and Datapoints to Alarm is 3."
    for pattern in ["- - - - X", "- - - X -"] {
        let got = evaluate(&rule(3, 3, TreatMissing::Missing), Ok, &range(pattern), T0).state;
        assert_ne!(got, Alarm, "{pattern}");
    }
    let e = evaluate(&rule(3, 3, TreatMissing::Missing), InsufficientData, &range("- - - - X"), T0);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [85.0 (30/11/26 10:04:00)] was greater than the threshold \
         (50.0) (minimum 3 datapoints for INSUFFICIENT_DATA -> ALARM transition)."
    );
    // Breaching data newer than a fine datapoint is no premature alarm either.
    assert_eq!(evaluate(&rule(3, 3, TreatMissing::Missing), Ok, &range("- - 0 X -"), T0).state, Ok);
}

#[test]
fn m_of_n_counts_breaching_datapoints_among_the_last_n() {
    let cases = [
        (5, 3, "0 0 X 0 X X 0", Alarm),
        (5, 3, "X X 0 0 X 0 0", Ok),
        (5, 1, "0 0 0 0 0 0 X", Alarm),
        (1, 1, "X X X", Alarm),
        (1, 1, "X X 0", Ok),
        (2, 2, "X X X 0", Ok),
        (2, 2, "0 0 X X", Alarm),
    ];
    for (n, m, pattern, want) in cases {
        for treat in TREATMENTS {
            let got = evaluate(&rule(n, m, treat), InsufficientData, &range(pattern), T0).state;
            assert_eq!(got, want, "{m} of {n} {pattern} {treat:?}");
        }
    }
}

#[test]
fn every_operator_compares_as_named() {
    use Comparison::*;
    // (operator, value, state) around a threshold of 50.
    let cases = [
        (GreaterThanOrEqualToThreshold, 50.0, Alarm),
        (GreaterThanOrEqualToThreshold, 49.9, Ok),
        (GreaterThanThreshold, 50.0, Ok),
        (GreaterThanThreshold, 50.1, Alarm),
        (LessThanThreshold, 50.0, Ok),
        (LessThanThreshold, 49.9, Alarm),
        (LessThanOrEqualToThreshold, 50.0, Alarm),
        (LessThanOrEqualToThreshold, 50.1, Ok),
    ];
    for (op, value, want) in cases {
        let rule = Rule { comparison: op, ..rule(1, 1, TreatMissing::Missing) };
        let got = evaluate(&rule, InsufficientData, &[Point::value(T0, value)], T0 + MINUTE);
        assert_eq!(got.state, want, "{op:?} {value}");
        let not = if want == Ok { "not " } else { "" };
        assert!(got.reason.contains(&format!("was {not}{} the threshold (50.0)", op.words())), "{}", got.reason);
    }
}

#[test]
fn too_few_periods_with_data_is_insufficient_data_only_when_missing_is_missing() {
    let empty = range("- - - - -");
    let cases = [
        (TreatMissing::Missing, InsufficientData),
        (TreatMissing::Breaching, Alarm),
        (TreatMissing::NotBreaching, Ok),
        (TreatMissing::Ignore, Alarm),
    ];
    for (treat, want) in cases {
        assert_eq!(evaluate(&rule(3, 3, treat), Alarm, &empty, T0).state, want, "{treat:?}");
    }
    let e = evaluate(&rule(3, 3, TreatMissing::Missing), Ok, &empty, T0);
    assert_eq!(e.reason, "Insufficient Data: 3 datapoints were unknown.");
    let e = evaluate(&rule(1, 1, TreatMissing::Missing), Ok, &range("- - -"), T0);
    assert_eq!(e.reason, "Insufficient Data: 1 datapoint was unknown.");
    assert_eq!(e.latest_value, None);
}

#[test]
fn reasons_read_as_cloudwatch_writes_them() {
    let now = T0 + 5 * MINUTE + 12_345;
    let three =
        [Point::value(T0 + MINUTE, 85.0), Point::value(T0 + 2 * MINUTE, 80.0), Point::value(T0 + 3 * MINUTE, 90.0)];
    let e = evaluate(&rule(3, 3, TreatMissing::Missing), Ok, &three, now);
    assert_eq!(e.state, Alarm);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 3 out of the last 3 datapoints [90.0 (30/11/26 10:03:00), 80.0 (30/11/26 10:02:00), \
         85.0 (30/11/26 10:01:00)] were greater than the threshold (50.0) (minimum 3 datapoints for OK -> ALARM \
         transition)."
    );
    assert_eq!(e.latest_value, Some(90.0));
    let data: serde_json::Value = serde_json::from_str(&e.reason_data).unwrap();
    assert_eq!(
        data,
        serde_json::json!({
            "version": "1.0", "queryDate": "2026-11-30T10:05:12.345+0000", "startDate": "2026-11-30T10:01:00.000+0000",
            "statistic": "Maximum", "period": 60, "recentDatapoints": [85.0, 80.0, 90.0], "threshold": 50.0,
            "evaluatedDatapoints": [
                {"timestamp": "2026-11-30T10:03:00.000+0000", "sampleCount": 1.0, "value": 90.0},
                {"timestamp": "2026-11-30T10:02:00.000+0000", "sampleCount": 1.0, "value": 80.0},
                {"timestamp": "2026-11-30T10:01:00.000+0000", "sampleCount": 1.0, "value": 85.0},
            ],
        })
    );

    // Back to OK: the fine datapoints are named, with the minimum for the way back.
    let mixed = range("X X 0 X 0");
    let e = evaluate(&rule(3, 2, TreatMissing::Missing), Alarm, &mixed, now);
    assert_eq!(e.state, Ok);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 2 out of the last 3 datapoints [10.0 (30/11/26 10:04:00), 10.0 (30/11/26 10:02:00)] \
         were not greater than the threshold (50.0) (minimum 2 datapoints for ALARM -> OK transition)."
    );

    // One period: the short form.
    let e = evaluate(&rule(1, 1, TreatMissing::Missing), InsufficientData, &range("- - X"), now);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 1 datapoint [85.0 (30/11/26 10:02:00)] was greater than the threshold (50.0)."
    );
    let e = evaluate(&rule(1, 1, TreatMissing::Missing), Alarm, &range("- X 0"), now);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 1 datapoint [10.0 (30/11/26 10:02:00)] was not greater than the threshold (50.0)."
    );

    // Missing data treated as breaching or not.
    let e = evaluate(&rule(1, 1, TreatMissing::Breaching), Ok, &range("- - -"), now);
    assert_eq!(
        e.reason,
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as \
         [Breaching]."
    );
    let e = evaluate(&rule(3, 3, TreatMissing::NotBreaching), Alarm, &range("- - - - -"), now);
    assert_eq!(
        e.reason,
        "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as \
         [NonBreaching]."
    );
    let e = evaluate(&rule(3, 3, TreatMissing::Breaching), Ok, &range("- - X - -"), now);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 1 out of the last 3 datapoints [85.0 (30/11/26 10:02:00)] was greater than the \
         threshold (50.0) and 2 missing datapoints were treated as [Breaching] (minimum 3 datapoints for OK -> \
         ALARM transition)."
    );
}

#[test]
fn percentiles_and_low_sample_counts() {
    // A p99 alarm over periods with few samples: evaluated unless told to ignore them.
    let mut r = rule(1, 1, TreatMissing::Missing);
    r.stat = "p99".into();
    let few = [Point { start_ms: T0, value: Some(95.0), samples: 20.0 }];
    assert_eq!(evaluate(&r, Ok, &few, T0 + MINUTE).state, Alarm);
    let data: serde_json::Value = serde_json::from_str(&evaluate(&r, Ok, &few, T0 + MINUTE).reason_data).unwrap();
    assert_eq!(data["extendedStatistic"], "p99");
    assert!(data.get("statistic").is_none());

    r.low_sample_ignore = Some(99.0);
    // p99 needs 10 / (1 - 0.99) = 1000 samples.
    assert_eq!(evaluate(&r, Ok, &few, T0 + MINUTE).state, Ok, "kept");
    let many = [Point { start_ms: T0, value: Some(95.0), samples: 1000.0 }];
    assert_eq!(evaluate(&r, Ok, &many, T0 + MINUTE).state, Alarm);
    // Below the median the count is 10 / p: p10 needs 100.
    assert_eq!(low_sample_minimum(10.0), 100.0);
    assert_eq!(low_sample_minimum(50.0), 20.0);
    assert_eq!(low_sample_minimum(100.0), 0.0);
}

#[test]
fn datapoints_to_alarm_above_n_is_read_as_n() {
    assert_eq!(evaluate(&rule(2, 5, TreatMissing::Missing), Ok, &range("X X"), T0).state, Alarm);
}
