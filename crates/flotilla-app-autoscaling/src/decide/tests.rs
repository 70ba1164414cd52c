//! Table tests of the pure decisions.

use super::*;

const NOW: i64 = 1_000_000_000;

fn situation(current: i64, min: i64, max: i64) -> Situation {
    Situation {
        current,
        bounds: Bounds { min, max },
        suspended: Suspended::default(),
        last: LastScaling::default(),
        now_ms: NOW,
    }
}

fn tracking(target: f64) -> Tracking {
    Tracking { target, scale_out_cooldown_s: 300, scale_in_cooldown_s: 300, disable_scale_in: false }
}

fn scale(to: i64) -> Decision {
    Decision::Scale { to }
}

fn not_scaled(proposed: i64, code: NotScaledCode) -> Decision {
    Decision::NotScaled { proposed, code }
}

fn is_nothing(d: &Decision) -> bool {
    matches!(d, Decision::Nothing(_))
}

#[test]
fn target_tracking_scales_out_proportionally_rounding_up_within_the_maximum() {
    use NotScaledCode::*;
    use TrackingAlarm::High;
    // (current, min, max, metric, target) -> decision
    let cases = [
        ((1, 1, 3, 200.0, 50.0), scale(3)),   // 4 wanted, held to 3
        ((1, 1, 10, 200.0, 50.0), scale(4)),  // 1 × 200 / 50
        ((2, 1, 10, 60.0, 50.0), scale(3)),   // 2.4 rounds up
        ((10, 1, 20, 50.4, 50.0), scale(11)), // 10.08 rounds up
        ((3, 1, 3, 90.0, 50.0), not_scaled(6, AlreadyAtMaxCapacity)),
        ((0, 0, 5, 80.0, 50.0), scale(1)), // from zero: one task
        ((1, 2, 5, 60.0, 50.0), scale(2)), // never below the minimum
    ];
    for ((current, min, max, metric, target), expected) in cases {
        let got = target_tracking(&tracking(target), High, Some(metric), &situation(current, min, max));
        assert_eq!(got, expected, "current {current} [{min}, {max}] metric {metric} target {target}");
    }
    let s = situation(2, 1, 10);
    assert!(is_nothing(&target_tracking(&tracking(50.0), High, Some(50.0), &s)), "at the target: nothing");
    assert!(is_nothing(&target_tracking(&tracking(50.0), High, None, &s)), "no value: nothing");
    assert!(is_nothing(&target_tracking(&tracking(50.0), High, Some(f64::NAN), &s)));
}

#[test]
fn target_tracking_scales_in_cautiously() {
    use NotScaledCode::*;
    use TrackingAlarm::Low;
    let cases = [
        ((3, 1, 3, 1.0, 50.0), scale(1)),    // 0.06 rounds up to 1
        ((10, 1, 20, 20.0, 50.0), scale(4)), // 4.0
        ((10, 1, 20, 21.0, 50.0), scale(5)), // 4.2 rounds up: stays under the target
        ((3, 1, 5, 40.0, 50.0), not_scaled(3, AutoScalingAnticipatedFlapping)), // 2 tasks would run at 60
        ((10, 6, 20, 10.0, 50.0), scale(6)), // held to the minimum
        ((2, 2, 5, 10.0, 50.0), not_scaled(1, AlreadyAtMinCapacity)),
        ((1, 1, 5, 0.0, 50.0), not_scaled(0, AlreadyAtMinCapacity)),
    ];
    for ((current, min, max, metric, target), expected) in cases {
        let got = target_tracking(&tracking(target), Low, Some(metric), &situation(current, min, max));
        assert_eq!(got, expected, "current {current} [{min}, {max}] metric {metric} target {target}");
    }
}

#[test]
fn target_tracking_respects_disable_scale_in_suspension_and_cooldowns() {
    let mut t = tracking(50.0);
    let mut s = situation(4, 1, 10);
    t.disable_scale_in = true;
    assert!(is_nothing(&target_tracking(&t, TrackingAlarm::Low, Some(5.0), &s)));
    t.disable_scale_in = false;
    s.suspended.dynamic_in = true;
    assert!(is_nothing(&target_tracking(&t, TrackingAlarm::Low, Some(5.0), &s)));
    s.suspended = Suspended { dynamic_out: true, ..Suspended::default() };
    assert!(is_nothing(&target_tracking(&t, TrackingAlarm::High, Some(500.0), &s)));
    assert_eq!(target_tracking(&t, TrackingAlarm::Low, Some(5.0), &s), scale(1), "only scale-out is suspended");
    s.suspended = Suspended::default();

    // Scale-in cooldown: 300 s after the last scale-in.
    s.last.scale_in_at = Some(NOW - 299_000);
    assert!(is_nothing(&target_tracking(&t, TrackingAlarm::Low, Some(5.0), &s)));
    s.last.scale_in_at = Some(NOW - 300_000);
    assert_eq!(target_tracking(&t, TrackingAlarm::Low, Some(5.0), &s), scale(1));
    t.scale_in_cooldown_s = 0;
    s.last.scale_in_at = Some(NOW);
    assert_eq!(target_tracking(&t, TrackingAlarm::Low, Some(5.0), &s), scale(1));

    // Scale-out cooldown: the last scale-out went from 2 to 4; the metric still
    // reflects the 2, so 2 × 150 / 50 = 6 is a larger scale-out, 2 × 90 / 50 = 4 is not.
    let mut s = situation(4, 1, 10);
    s.last.scale_out = Some((NOW - 60_000, 2));
    assert_eq!(target_tracking(&t, TrackingAlarm::High, Some(150.0), &s), scale(6));
    assert!(is_nothing(&target_tracking(&t, TrackingAlarm::High, Some(90.0), &s)));
    // After the cooldown the current capacity is the base again.
    s.last.scale_out = Some((NOW - 300_000, 2));
    assert_eq!(target_tracking(&t, TrackingAlarm::High, Some(90.0), &s), scale(8));
}

fn steps(list: &[(Option<f64>, Option<f64>, i64)]) -> Vec<StepAdjustment> {
    list.iter()
        .map(|(lower, upper, adjustment)| StepAdjustment { lower: *lower, upper: *upper, adjustment: *adjustment })
        .collect()
}

#[test]
fn steps_are_chosen_by_the_breach_with_aws_bound_inclusivity() {
    let up = steps(&[(Some(0.0), Some(10.0), 1), (Some(10.0), Some(20.0), 2), (Some(20.0), None, 3)]);
    let cases = [
        (0.0, Some(1)),
        (5.0, Some(1)),
        (10.0, Some(2)),
        (19.99, Some(2)),
        (20.0, Some(3)),
        (1e9, Some(3)),
        (-1.0, None),
    ];
    for (breach, expected) in cases {
        assert_eq!(select_step(&up, breach, true).map(|s| s.adjustment), expected, "breach {breach}");
    }
    let down = steps(&[(None, Some(-10.0), -2), (Some(-10.0), Some(0.0), -1)]);
    let cases =
        [(-0.0, Some(-1)), (-5.0, Some(-1)), (-10.0, Some(-2)), (-9.99, Some(-1)), (-50.0, Some(-2)), (1.0, None)];
    for (breach, expected) in cases {
        assert_eq!(select_step(&down, breach, false).map(|s| s.adjustment), expected, "breach {breach}");
    }
}

#[test]
fn adjustments_follow_aws_rounding() {
    use AdjustmentType::*;
    let cases = [
        ((4, ChangeInCapacity, 2, None), 6),
        ((4, ChangeInCapacity, -10, None), 0),
        ((4, ExactCapacity, 7, None), 7),
        ((10, PercentChangeInCapacity, 25, None), 12),    // 2.5 toward zero
        ((10, PercentChangeInCapacity, -25, None), 8),    // -2.5 toward zero
        ((2, PercentChangeInCapacity, 10, None), 3),      // 0.2 is one task
        ((2, PercentChangeInCapacity, -10, None), 1),     // -0.2 is one task
        ((10, PercentChangeInCapacity, 10, Some(3)), 13), // at least the magnitude
        ((10, PercentChangeInCapacity, -10, Some(3)), 7),
        ((100, PercentChangeInCapacity, 10, Some(3)), 110),
    ];
    for ((base, kind, adjustment, magnitude), expected) in cases {
        assert_eq!(adjusted(base, kind, adjustment, magnitude), expected, "{base} {kind:?} {adjustment} {magnitude:?}");
    }
}

fn step(kind: AdjustmentType, list: &[(Option<f64>, Option<f64>, i64)]) -> Step {
    Step { adjustment_type: kind, steps: steps(list), min_adjustment_magnitude: None, cooldown_s: 60 }
}

#[test]
fn step_scaling_changes_capacity_within_bounds_and_cooldowns() {
    use AdjustmentType::*;
    use NotScaledCode::*;
    let out = step(ChangeInCapacity, &[(Some(0.0), Some(20.0), 1), (Some(20.0), None, 3)]);
    assert_eq!(step_scaling(&out, 5.0, true, &situation(2, 1, 10)), scale(3));
    assert_eq!(step_scaling(&out, 25.0, true, &situation(2, 1, 10)), scale(5));
    assert_eq!(step_scaling(&out, 25.0, true, &situation(9, 1, 10)), scale(10));
    assert_eq!(step_scaling(&out, 25.0, true, &situation(10, 1, 10)), not_scaled(13, AlreadyAtMaxCapacity));
    assert!(is_nothing(&step_scaling(&out, -5.0, false, &situation(2, 1, 10))), "no step below the threshold");

    // During the cooldown after a +1 (2 -> 3), a +1 again adds nothing; a +3 adds 2.
    let mut s = situation(3, 1, 10);
    s.last.scale_out = Some((NOW - 30_000, 2));
    assert!(is_nothing(&step_scaling(&out, 5.0, true, &s)));
    assert_eq!(step_scaling(&out, 25.0, true, &s), scale(5));
    s.last.scale_out = Some((NOW - 60_000, 2));
    assert_eq!(step_scaling(&out, 5.0, true, &s), scale(4), "cooldown over");

    let down = step(ChangeInCapacity, &[(None, Some(0.0), -1)]);
    assert_eq!(step_scaling(&down, -3.0, false, &situation(3, 1, 10)), scale(2));
    assert_eq!(step_scaling(&down, -3.0, false, &situation(1, 1, 10)), not_scaled(0, AlreadyAtMinCapacity));
    let mut s = situation(3, 1, 10);
    s.last.scale_in_at = Some(NOW - 10_000);
    assert!(is_nothing(&step_scaling(&down, -3.0, false, &s)), "scale-in waits for the cooldown");
    s.last.scale_in_at = None;
    s.last.scale_out = Some((NOW - 10_000, 2));
    assert_eq!(step_scaling(&down, -3.0, false, &s), scale(2), "a scale-out cooldown does not block scale-in");

    let exact = step(ExactCapacity, &[(Some(0.0), None, 4)]);
    assert_eq!(step_scaling(&exact, 0.0, true, &situation(1, 1, 10)), scale(4));
    assert_eq!(step_scaling(&exact, 0.0, true, &situation(6, 1, 10)), scale(4), "exact capacity can scale in");
    assert_eq!(step_scaling(&exact, 0.0, true, &situation(4, 1, 10)), not_scaled(4, AlreadyAtDesiredCapacity));

    let mut suspended = situation(2, 1, 10);
    suspended.suspended.dynamic_out = true;
    assert!(is_nothing(&step_scaling(&out, 5.0, true, &suspended)));
}

#[test]
fn scheduled_actions_set_bounds_and_bring_the_count_into_them() {
    let b = Bounds { min: 1, max: 3 };
    let cases = [
        ((Some(2), None, 1), Ok((Bounds { min: 2, max: 3 }, Some((2, "minimum capacity was set to 2"))))),
        ((Some(2), None, 3), Ok((Bounds { min: 2, max: 3 }, None))),
        ((None, Some(2), 3), Ok((Bounds { min: 1, max: 2 }, Some((2, "maximum capacity was set to 2"))))),
        ((Some(0), Some(10), 3), Ok((Bounds { min: 0, max: 10 }, None))),
        ((Some(5), None, 1), Err(())),
    ];
    for ((min, max, current), expected) in cases {
        let got = scheduled(min, max, b, current).map(|c| (c.bounds, c.desired)).map_err(|_| ());
        let expected = expected.map(|(bounds, d)| (bounds, d.map(|(n, c): (i64, &str)| (n, c.to_string()))));
        assert_eq!(got, expected, "{min:?} {max:?} {current}");
    }
}
