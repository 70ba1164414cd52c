//! Table-driven tests of schedule expressions: what parses and what is refused, next
//! fire times in UTC, Europe/Paris and America/New_York (daylight saving changes of
//! 2026 included), leap years, `L`/`W`/`#`, year bounds, rates, `at`, windows and
//! catch-up.

use crate::{Schedule, ScheduleExpression, TimeZone, next_after};

/// Epoch milliseconds of an RFC 3339 instant.
fn ms(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap_or_else(|e| panic!("{text}: {e}")).as_millisecond()
}

fn zone(name: &str) -> TimeZone {
    TimeZone::named(name).unwrap_or_else(|e| panic!("{e}"))
}

fn parse(expression: &str) -> ScheduleExpression {
    ScheduleExpression::parse(expression).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn accepted_expressions() {
    for expression in [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(2 hours)",
        "rate(1 day)",
        "rate(2 days)",
        "cron(0 12 * * ? *)",
        "cron(15 12 * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0/10 * ? * MON-FRI *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0/30 20-2 ? * MON-FRI *)",
        "cron(5,35 14 * * ? *)",
        "cron(15 10 ? * 6L 2019-2022)",
        "cron(0 0 L * ? *)",
        "cron(0 0 LW * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 0 ? * 3#2 *)",
        "cron(0 0 ? * L *)",
        "cron(0 0 ? jan,Jul sun *)",
        "cron(*/5 * * * ? 1970,2199)",
        "cron(0 0 1 1 ? 2000/10)",
        "cron(10-40/10 * * * ? *)",
        "cron(0 0 ? * FRI-MON *)",
        "at(2026-05-01T10:00:00)",
        "at(2024-02-29T23:59:59)",
    ] {
        assert!(
            ScheduleExpression::parse(expression).is_ok(),
            "{expression}: {:?}",
            ScheduleExpression::parse(expression)
        );
    }
}

#[test]
fn refused_expressions() {
    let rows = [
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "singular"),
        ("rate(2 hour)", "singular"),
        ("rate(1 days)", "singular"),
        ("rate(0 minutes)", "positive whole number"),
        ("rate(-1 minutes)", "positive whole number"),
        ("rate(1.5 hours)", "positive whole number"),
        ("rate(+5 minutes)", "positive whole number"),
        ("rate(5 weeks)", "minute(s), hour(s) or day(s)"),
        ("rate(5 Minutes)", "minute(s), hour(s) or day(s)"),
        ("rate(5)", "a value and a unit"),
        ("rate()", "a value and a unit"),
        ("rate(5 minutes) ", "must be rate"),
        ("RATE(5 minutes)", "must be rate"),
        ("every 5 minutes", "must be rate"),
        ("", "must be rate"),
        ("cron(0 12 * * * *)", "must be '?'"),
        ("cron(0 12 1 * 2 *)", "must be '?'"),
        ("cron(0 12 ? * ? *)", "cannot both be '?'"),
        ("cron(0 12 * *)", "6 fields"),
        ("cron(0 12 * * ? * *)", "6 fields"),
        ("cron(60 * * * ? *)", "minutes: 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours: 24"),
        ("cron(0 0 32 * ? *)", "day-of-month: 32"),
        ("cron(0 0 0 * ? *)", "day-of-month: 0"),
        ("cron(0 0 * 13 ? *)", "month: 13"),
        ("cron(0 0 ? * 8 *)", "day-of-week: 8"),
        ("cron(0 0 ? * 0 *)", "day-of-week: 0"),
        ("cron(0 0 * * ? 1969)", "year: 1969"),
        ("cron(0 0 * * ? 2200)", "year: 2200"),
        ("cron(0 0 * * ? 2030-2020)", "runs backwards"),
        ("cron(0 0 ? * 3#6 *)", "#1 to #5"),
        ("cron(0 0 ? * 3#0 *)", "#1 to #5"),
        ("cron(0 0 ? * 3#1,6#3 *)", "#1 to #5"),
        ("cron(0 0 ? * MON/2 *)", "'/' is not allowed"),
        ("cron(0/0 * * * ? *)", "step 0"),
        ("cron(0/61 * * * ? *)", "step 61"),
        ("cron(x * * * ? *)", "minutes: 'x'"),
        ("cron(0 0 W * ? *)", "day-of-month: ''"),
        ("cron(0 0 32W * ? *)", "day-of-month: 32"),
        ("cron(0 0 L-2 * ? *)", "day-of-month"),
        ("cron(0 0 1,L * ? *)", "day-of-month"),
        ("cron(0 0 ? * 8L *)", "day-of-week: 8"),
        ("cron(? 0 * * ? *)", "minutes: '?'"),
        ("cron(0 0 * JANUARY ? *)", "month: 'JANUARY'"),
        ("cron(1-2-3 * * * ? *)", "minutes"),
        ("at(2026-02-30T00:00:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2025-02-29T00:00:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2026-01-01 00:00:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2026-01-01T24:00:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2026-01-01T00:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(26-01-01T00:00:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2026-01-01T00:00:00Z)", "yyyy-mm-ddThh:mm:ss"),
    ];
    let mut failures = Vec::new();
    for (expression, reason) in rows {
        match ScheduleExpression::parse(expression) {
            Ok(parsed) => failures.push(format!("{expression}: accepted as {parsed:?}")),
            Err(error) => {
                let message = error.to_string();
                if !message.starts_with("Parameter ScheduleExpression is not valid") || !message.contains(reason) {
                    failures.push(format!("{expression}: expected {reason:?} in {message:?}"));
                }
            }
        }
    }
    let too_long = format!("cron(0 0 * * ? {})", vec!["2000"; 60].join(","));
    if ScheduleExpression::parse(&too_long).is_ok() {
        failures.push("an expression over 256 characters was accepted".into());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// (expression, zone, after, expected next fire time) rows for cron and `at`.
const NEXT_ROWS: &[(&str, &str, &str, Option<&str>)] = &[
    // UTC, EventBridge rules' examples.
    ("cron(0 12 * * ? *)", "UTC", "2026-01-01T00:00:00Z", Some("2026-01-01T12:00:00Z")),
    ("cron(0 12 * * ? *)", "UTC", "2026-01-01T12:00:00Z", Some("2026-01-02T12:00:00Z")),
    ("cron(0 12 * * ? *)", "UTC", "2026-01-01T11:59:59.999Z", Some("2026-01-01T12:00:00Z")),
    ("cron(0/15 * * * ? *)", "UTC", "2026-01-01T10:07:30Z", Some("2026-01-01T10:15:00Z")),
    ("cron(* * * * ? *)", "UTC", "2026-01-01T00:00:59.999Z", Some("2026-01-01T00:01:00Z")),
    ("cron(0 18 ? * MON-FRI *)", "UTC", "2026-01-02T18:00:00Z", Some("2026-01-05T18:00:00Z")),
    ("cron(0 8 1 * ? *)", "UTC", "2026-01-15T00:00:00Z", Some("2026-02-01T08:00:00Z")),
    ("cron(5,35 14 * * ? *)", "UTC", "2026-01-01T14:05:00Z", Some("2026-01-01T14:35:00Z")),
    ("cron(0/30 20-2 ? * MON-FRI *)", "UTC", "2026-01-02T23:45:00Z", Some("2026-01-05T00:00:00Z")),
    ("cron(0/30 20-2 ? * MON-FRI *)", "UTC", "2026-01-05T02:00:00Z", Some("2026-01-05T02:30:00Z")),
    ("cron(0/30 20-2 ? * MON-FRI *)", "UTC", "2026-01-05T02:30:00Z", Some("2026-01-05T20:00:00Z")),
    ("cron(10-40/10 * * * ? *)", "UTC", "2026-01-01T00:40:00Z", Some("2026-01-01T01:10:00Z")),
    ("cron(0 0 ? jan,Jul sun *)", "UTC", "2026-01-31T00:00:00Z", Some("2026-07-05T00:00:00Z")),
    ("cron(0 0 ? * FRI-MON *)", "UTC", "2026-01-05T00:00:00Z", Some("2026-01-09T00:00:00Z")),
    ("cron(0 0 31 * ? *)", "UTC", "2026-04-01T00:00:00Z", Some("2026-05-31T00:00:00Z")),
    // Leap years.
    ("cron(0 0 29 2 ? *)", "UTC", "2025-03-01T00:00:00Z", Some("2028-02-29T00:00:00Z")),
    ("cron(0 0 29 2 ? *)", "UTC", "2096-03-01T00:00:00Z", Some("2104-02-29T00:00:00Z")),
    ("cron(0 0 L 2 ? *)", "UTC", "2024-01-01T00:00:00Z", Some("2024-02-29T00:00:00Z")),
    ("cron(0 0 L 2 ? *)", "UTC", "2024-03-01T00:00:00Z", Some("2025-02-28T00:00:00Z")),
    ("cron(0 0 30 2 ? *)", "UTC", "2026-01-01T00:00:00Z", None),
    // L, W and #.
    ("cron(15 10 ? * 6L 2019-2022)", "UTC", "2022-11-30T00:00:00Z", Some("2022-12-30T10:15:00Z")),
    ("cron(15 10 ? * 6L 2019-2022)", "UTC", "2022-12-30T10:15:00Z", None),
    ("cron(0 9 15W * ? *)", "UTC", "2026-02-01T00:00:00Z", Some("2026-02-16T09:00:00Z")),
    ("cron(0 9 1W * ? *)", "UTC", "2026-07-15T00:00:00Z", Some("2026-08-03T09:00:00Z")),
    ("cron(0 9 31W * ? *)", "UTC", "2026-05-01T00:00:00Z", Some("2026-05-29T09:00:00Z")),
    ("cron(0 9 LW * ? *)", "UTC", "2026-05-01T00:00:00Z", Some("2026-05-29T09:00:00Z")),
    ("cron(0 10 ? * 3#2 *)", "UTC", "2026-01-01T00:00:00Z", Some("2026-01-13T10:00:00Z")),
    ("cron(0 10 ? * 2#5 *)", "UTC", "2026-01-01T00:00:00Z", Some("2026-03-30T10:00:00Z")),
    ("cron(0 10 ? * L *)", "UTC", "2026-01-01T00:00:00Z", Some("2026-01-03T10:00:00Z")),
    // Year bounds.
    ("cron(0 0 1 1 ? 2199)", "UTC", "2198-06-01T00:00:00Z", Some("2199-01-01T00:00:00Z")),
    ("cron(0 0 1 1 ? 2199)", "UTC", "2199-01-01T00:00:00Z", None),
    ("cron(59 23 31 12 ? *)", "UTC", "2199-12-31T23:59:00Z", None),
    ("cron(0 0 1 1 ? 1970)", "UTC", "1900-01-01T00:00:00Z", Some("1970-01-01T00:00:00Z")),
    ("cron(0 0 1 1 ? 1970)", "Asia/Tokyo", "1900-01-01T00:00:00Z", Some("1969-12-31T15:00:00Z")),
    ("cron(0 0 * * ? 2030/50)", "UTC", "2031-01-01T00:00:00Z", Some("2080-01-01T00:00:00Z")),
    // Europe/Paris: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
    ("cron(30 2 * * ? *)", "Europe/Paris", "2026-03-28T02:30:00+01:00", Some("2026-03-30T02:30:00+02:00")),
    ("cron(0 * * * ? *)", "Europe/Paris", "2026-03-29T01:00:00+01:00", Some("2026-03-29T03:00:00+02:00")),
    ("cron(30 2 * * ? *)", "Europe/Paris", "2026-10-24T02:30:00+02:00", Some("2026-10-25T02:30:00+02:00")),
    ("cron(30 2 * * ? *)", "Europe/Paris", "2026-10-25T02:30:00+02:00", Some("2026-10-26T02:30:00+01:00")),
    ("cron(0 * * * ? *)", "Europe/Paris", "2026-10-25T02:00:00+02:00", Some("2026-10-25T03:00:00+01:00")),
    ("cron(*/30 * * * ? *)", "Europe/Paris", "2026-10-25T02:30:00+02:00", Some("2026-10-25T03:00:00+01:00")),
    ("cron(*/30 * * * ? *)", "Europe/Paris", "2026-10-25T02:15:00+01:00", Some("2026-10-25T03:00:00+01:00")),
    ("cron(0 9 * * ? *)", "Europe/Paris", "2026-03-28T09:00:00+01:00", Some("2026-03-29T09:00:00+02:00")),
    // America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
    ("cron(30 2 * * ? *)", "America/New_York", "2026-03-07T02:30:00-05:00", Some("2026-03-09T02:30:00-04:00")),
    ("cron(30 1 * * ? *)", "America/New_York", "2026-10-31T01:30:00-04:00", Some("2026-11-01T01:30:00-04:00")),
    ("cron(30 1 * * ? *)", "America/New_York", "2026-11-01T01:30:00-04:00", Some("2026-11-02T01:30:00-05:00")),
    ("cron(0 9 * * ? *)", "America/New_York", "2026-03-07T09:00:00-05:00", Some("2026-03-08T09:00:00-04:00")),
    ("cron(0 9 * * ? *)", "America/New_York", "2026-10-31T09:00:00-04:00", Some("2026-11-01T09:00:00-05:00")),
    // One-time expressions.
    ("at(2026-05-01T10:00:00)", "Europe/Paris", "2026-01-01T00:00:00Z", Some("2026-05-01T08:00:00Z")),
    ("at(2026-05-01T10:00:00)", "Europe/Paris", "2026-05-01T08:00:00Z", None),
    ("at(2026-03-29T02:30:00)", "Europe/Paris", "2026-01-01T00:00:00Z", Some("2026-03-29T03:30:00+02:00")),
    ("at(2026-10-25T02:30:00)", "Europe/Paris", "2026-01-01T00:00:00Z", Some("2026-10-25T02:30:00+02:00")),
    ("at(2026-11-01T01:30:45)", "America/New_York", "2026-01-01T00:00:00Z", Some("2026-11-01T05:30:45Z")),
];

#[test]
fn next_fire_times() {
    let mut failures = Vec::new();
    for (expression, zone_name, after, expected) in NEXT_ROWS {
        let next = next_after(&parse(expression), ms(after), &zone(zone_name), 0);
        if next != expected.map(ms) {
            let shown = next.map(|t| jiff::Timestamp::from_millisecond(t).unwrap().to_string());
            failures.push(format!("{expression} in {zone_name} after {after}: expected {expected:?}, got {shown:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), NEXT_ROWS.len(), failures.join("\n"));
}

#[test]
fn every_fire_time_of_a_day_across_daylight_saving_changes() {
    // Hourly at :30 in Paris on the days the clocks change: 23 fires in spring, 24 in autumn.
    let hourly = parse("cron(30 * * * ? *)");
    let paris = zone("Europe/Paris");
    for (day_start, day_end, fires) in [
        ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23),
        ("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 24),
    ] {
        let (mut t, end, mut count) = (ms(day_start), ms(day_end), 0);
        while let Some(next) = next_after(&hourly, t, &paris, 0).filter(|n| *n < end) {
            assert!(next > t);
            t = next;
            count += 1;
        }
        assert_eq!(count, fires, "{day_start}");
    }
}

#[test]
fn rates_count_elapsed_time_from_their_start() {
    let rows = [
        ("rate(5 minutes)", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:07:00Z", "2026-01-01T00:10:00Z"),
        ("rate(5 minutes)", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z"),
        ("rate(1 hour)", "UTC", "2026-01-01T00:00:00Z", "2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("rate(1 hour)", "UTC", "2026-01-01T00:20:17Z", "2026-01-01T05:00:00Z", "2026-01-01T05:20:17Z"),
        (
            "rate(1 day)",
            "Europe/Paris",
            "2026-03-28T12:00:00+01:00",
            "2026-03-28T12:00:00+01:00",
            "2026-03-29T13:00:00+02:00",
        ),
        ("rate(2 days)", "UTC", "2024-02-28T00:00:00Z", "2024-02-28T00:00:00Z", "2024-03-01T00:00:00Z"),
    ];
    for (expression, zone_name, start, after, expected) in rows {
        let next = next_after(&parse(expression), ms(after), &zone(zone_name), ms(start));
        assert_eq!(next, Some(ms(expected)), "{expression} from {start} after {after}");
    }
    assert_eq!(next_after(&parse("rate(1 day)"), i64::MAX - 1, &TimeZone::utc(), 0), None);
}

#[test]
fn windows_keep_start_and_drop_end() {
    let rate = Schedule::new(parse("rate(1 hour)"), TimeZone::utc(), ms("2026-01-01T00:00:00Z"))
        .with_window(Some(ms("2026-01-02T00:30:00Z")), Some(ms("2026-01-02T03:00:00Z")));
    assert_eq!(rate.next_after(ms("2026-01-01T00:00:00Z")), Some(ms("2026-01-02T01:00:00Z")));
    assert_eq!(rate.next_after(ms("2026-01-02T01:00:00Z")), Some(ms("2026-01-02T02:00:00Z")));
    assert_eq!(rate.next_after(ms("2026-01-02T02:00:00Z")), None);
    assert_eq!(rate.last_at_or_before(ms("2026-01-05T00:00:00Z")), Some(ms("2026-01-02T02:00:00Z")));
    assert_eq!(rate.last_at_or_before(ms("2026-01-02T00:45:00Z")), None);

    let cron = Schedule::new(parse("cron(0 0 * * ? *)"), TimeZone::utc(), 0)
        .with_window(Some(ms("2026-01-03T00:00:00Z")), None);
    assert_eq!(cron.next_after(0), Some(ms("2026-01-03T00:00:00Z")), "the start itself may fire");

    let once = Schedule::new(parse("at(2026-01-01T00:00:00)"), TimeZone::utc(), 0)
        .with_window(Some(ms("2027-01-01T00:00:00Z")), Some(ms("2027-02-01T00:00:00Z")));
    assert_eq!(once.next_after(0), Some(ms("2026-01-01T00:00:00Z")), "one-time schedules ignore the window");
}

#[test]
fn catch_up_fires_once_for_what_was_missed() {
    let hourly = Schedule::new(parse("cron(0 * * * ? *)"), TimeZone::utc(), 0);
    let c = hourly.catch_up(ms("2026-01-01T10:00:00Z"), ms("2026-01-01T13:20:00Z"));
    assert_eq!((c.due, c.next), (Some(ms("2026-01-01T13:00:00Z")), Some(ms("2026-01-01T14:00:00Z"))));
    let c = hourly.catch_up(ms("2026-01-01T13:00:00Z"), ms("2026-01-01T13:20:00Z"));
    assert_eq!((c.due, c.next), (None, Some(ms("2026-01-01T14:00:00Z"))));
    let c = hourly.catch_up(ms("2026-01-01T13:00:00Z"), ms("2026-01-01T14:00:00Z"));
    assert_eq!(c.due, Some(ms("2026-01-01T14:00:00Z")), "a fire time at now is due now");

    let rate = Schedule::new(parse("rate(5 minutes)"), TimeZone::utc(), ms("2026-01-01T00:00:00Z"));
    let c = rate.catch_up(ms("2026-01-01T00:05:00Z"), ms("2026-01-01T00:23:00Z"));
    assert_eq!((c.due, c.next), (Some(ms("2026-01-01T00:20:00Z")), Some(ms("2026-01-01T00:25:00Z"))));
    let c = rate.catch_up(ms("2026-01-01T00:00:00Z") - 1, ms("2026-01-01T00:00:30Z"));
    assert_eq!(c.due, Some(ms("2026-01-01T00:00:00Z")), "a rate without StartDate fires at once");

    let once = Schedule::new(parse("at(2026-06-01T00:00:00)"), zone("Europe/Paris"), 0);
    let c = once.catch_up(ms("2026-01-01T00:00:00Z"), ms("2026-07-01T00:00:00Z"));
    assert_eq!((c.due, c.next), (Some(ms("2026-05-31T22:00:00Z")), None));

    // Backwards across the autumn fold: at 02:45 (second pass), 02:30's first pass was last.
    let paris = Schedule::new(parse("cron(30 2 * * ? *)"), zone("Europe/Paris"), 0);
    assert_eq!(paris.last_at_or_before(ms("2026-10-25T02:45:00+01:00")), Some(ms("2026-10-25T02:30:00+02:00")));
    assert_eq!(paris.last_at_or_before(ms("2026-03-29T12:00:00+02:00")), Some(ms("2026-03-28T02:30:00+01:00")));
    let rare = Schedule::new(parse("cron(0 0 1 1 ? 1970)"), TimeZone::utc(), 0);
    assert_eq!(rare.last_at_or_before(ms("2199-12-31T00:00:00Z")), Some(0));
    assert_eq!(rare.last_at_or_before(-1), None);
}

#[test]
fn previous_and_next_agree() {
    // For many expressions and instants: the last fire at or before `next - 1` is before
    // `next`, and the next after the last fire at or before t is after t.
    let paris = zone("Europe/Paris");
    let expressions = ["cron(*/7 * * * ? *)", "cron(30 2 * * ? *)", "cron(0 0 ? * 2#5 *)", "cron(0 9 LW * ? *)"];
    for expression in expressions {
        let schedule = Schedule::new(parse(expression), paris.clone(), 0);
        let mut t = ms("2026-03-28T00:00:00Z");
        for _ in 0..200 {
            let next = schedule.next_after(t).unwrap();
            let last = schedule.last_at_or_before(next).unwrap();
            assert_eq!(last, next, "{expression}");
            assert!(schedule.last_at_or_before(next - 1).is_none_or(|l| l <= t), "{expression} at {t}");
            t = next + 20 * 60_000;
        }
    }
}
