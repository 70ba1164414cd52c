use super::*;

const WINDOW: Duration = Duration::from_secs(100);

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, n], 8000))
}

/// A healthy target out of slow start with nothing in flight.
fn up(n: u8) -> Candidate {
    Candidate { addr: addr(n), healthy: true, in_flight: 0, healthy_since: None }
}

fn down(n: u8) -> Candidate {
    Candidate { healthy: false, ..up(n) }
}

fn busy(n: u8, in_flight: usize) -> Candidate {
    Candidate { in_flight, ..up(n) }
}

/// A target that became healthy `fraction` of the window before `now`.
fn warming(n: u8, now: Instant, fraction: f64) -> Candidate {
    Candidate { healthy_since: Some(now - WINDOW.mul_f64(fraction)), ..up(n) }
}

/// Picks 0..n: how many each target got.
fn shares(targets: &[Candidate], algorithm: Algorithm, slow_start: Duration, now: Instant, n: u64) -> Vec<usize> {
    let mut counts = vec![0; targets.len()];
    for k in 0..n {
        counts[choose(targets, algorithm, slow_start, now, k).expect("a target")] += 1;
    }
    counts
}

fn picks(targets: &[Candidate], algorithm: Algorithm, n: u64) -> Vec<usize> {
    let now = Instant::now();
    (0..n).map(|k| choose(targets, algorithm, Duration::ZERO, now, k).expect("a target")).collect()
}

#[test]
fn no_target_no_pick() {
    for algorithm in [Algorithm::RoundRobin, Algorithm::LeastOutstandingRequests, Algorithm::WeightedRandom] {
        assert_eq!(choose(&[], algorithm, WINDOW, Instant::now(), 7), None);
    }
}

#[test]
fn algorithms_by_attribute() {
    assert_eq!(Algorithm::from_attribute(None), Algorithm::RoundRobin);
    assert_eq!(Algorithm::from_attribute(Some("round_robin")), Algorithm::RoundRobin);
    assert_eq!(Algorithm::from_attribute(Some("least_outstanding_requests")), Algorithm::LeastOutstandingRequests);
    assert_eq!(Algorithm::from_attribute(Some("weighted_random")), Algorithm::WeightedRandom);
    assert_eq!(Algorithm::from_attribute(Some("made_up")), Algorithm::RoundRobin);
}

#[test]
fn round_robin_takes_healthy_targets_in_turn() {
    let cases: &[(&str, Vec<Candidate>, Vec<usize>)] = &[
        ("all healthy", vec![up(1), up(2), up(3)], vec![0, 1, 2, 0, 1, 2]),
        ("an unhealthy one is skipped", vec![up(1), down(2), up(3)], vec![0, 2, 0, 2, 0, 2]),
        ("none healthy: every target (fail open)", vec![down(1), down(2)], vec![0, 1, 0, 1, 0, 1]),
        ("in-flight counts play no part", vec![busy(1, 9), up(2)], vec![0, 1, 0, 1, 0, 1]),
    ];
    for (what, targets, want) in cases {
        assert_eq!(&picks(targets, Algorithm::RoundRobin, 6), want, "{what}");
    }
}

#[test]
fn least_outstanding_requests_takes_the_least_busy_healthy_target() {
    let lor = Algorithm::LeastOutstandingRequests;
    let cases: &[(&str, Vec<Candidate>, Vec<usize>)] = &[
        ("the fewest in flight", vec![busy(1, 3), busy(2, 1), busy(3, 2)], vec![1, 1, 1, 1]),
        ("ties in turn", vec![busy(1, 2), up(2), up(3), busy(4, 5)], vec![1, 2, 1, 2]),
        ("all idle: round robin", vec![up(1), up(2), up(3)], vec![0, 1, 2, 0]),
        (
            "an unhealthy target is passed over however idle",
            vec![Candidate { healthy: false, ..busy(1, 0) }, busy(2, 4), busy(3, 6)],
            vec![1, 1, 1, 1],
        ),
        (
            "none healthy: the least busy of all (fail open)",
            vec![Candidate { healthy: false, ..busy(1, 4) }, Candidate { healthy: false, ..busy(2, 1) }],
            vec![1, 1, 1, 1],
        ),
    ];
    for (what, targets, want) in cases {
        assert_eq!(&picks(targets, lor, 4), want, "{what}");
    }
}

#[test]
fn least_outstanding_requests_follows_the_counts_as_they_change() {
    // Requests that never end: each pick adds one to its target, so picks spread evenly.
    let mut targets = vec![busy(1, 2), up(2), up(3)];
    let now = Instant::now();
    for k in 0..30 {
        let i = choose(&targets, Algorithm::LeastOutstandingRequests, Duration::ZERO, now, k).expect("a target");
        targets[i].in_flight += 1;
    }
    let counts: Vec<usize> = targets.iter().map(|t| t.in_flight).collect();
    assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1, "{counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), 32);
}

#[test]
fn the_slow_start_ramp_is_linear() {
    let now = Instant::now();
    let at = |fraction: f64| ramp(Some(now - WINDOW.mul_f64(fraction)), WINDOW, now);
    assert_eq!(at(0.0), 0.0);
    assert!((at(0.25) - 0.25).abs() < 1e-9);
    assert!((at(0.5) - 0.5).abs() < 1e-9);
    assert_eq!(at(1.0), 1.0);
    assert_eq!(at(3.0), 1.0, "out of slow start after the window");
    assert_eq!(ramp(None, WINDOW, now), 1.0);
    assert_eq!(ramp(Some(now), Duration::ZERO, now), 1.0, "slow start off");
    assert_eq!(ramp(Some(now + Duration::from_secs(1)), WINDOW, now), 0.0, "a clock step back is no harm");
}

#[test]
fn a_target_in_slow_start_gets_a_linearly_rising_share() {
    let now = Instant::now();
    let n = 20_000;
    for algorithm in [Algorithm::RoundRobin, Algorithm::LeastOutstandingRequests] {
        // Two targets: a full share is one half; at fraction f of the window, f / 2.
        for (fraction, want) in [(0.0, 0.0), (0.1, 0.05), (0.5, 0.25), (0.9, 0.45), (1.0, 0.5)] {
            let targets = [up(1), warming(2, now, fraction)];
            let counts = shares(&targets, algorithm, WINDOW, now, n);
            let share = counts[1] as f64 / n as f64;
            assert!((share - want).abs() < 0.01, "{algorithm:?} at {fraction}: share {share}, want {want}");
        }
        // Three targets: the warming one gets f / 3, the others split the rest evenly.
        let targets = [up(1), up(2), warming(3, now, 0.5)];
        let counts = shares(&targets, algorithm, WINDOW, now, n);
        let share = |i: usize| counts[i] as f64 / n as f64;
        assert!((share(2) - 0.5 / 3.0).abs() < 0.01, "{algorithm:?}: {counts:?}");
        assert!((share(0) - share(1)).abs() < 0.01, "{algorithm:?}: {counts:?}");
    }
}

#[test]
fn a_share_at_zero_is_none_at_all() {
    let now = Instant::now();
    let targets = [up(1), warming(2, now, 0.0), up(3)];
    for algorithm in [Algorithm::RoundRobin, Algorithm::LeastOutstandingRequests] {
        assert_eq!(shares(&targets, algorithm, WINDOW, now, 5_000)[1], 0, "{algorithm:?}");
    }
}

#[test]
fn slow_start_does_not_apply_without_a_healthy_target_out_of_it() {
    let now = Instant::now();
    let n = 10_000;
    let cases: &[(&str, Vec<Candidate>, Duration, Vec<usize>)] = &[
        (
            "the only healthy target",
            vec![warming(1, now, 0.1), Candidate { healthy: false, ..up(2) }],
            WINDOW,
            vec![n as usize, 0],
        ),
        (
            "every healthy target is in slow start",
            vec![warming(1, now, 0.1), warming(2, now, 0.2), down(3)],
            WINDOW,
            vec![n as usize / 2, n as usize / 2, 0],
        ),
        (
            "slow start is off for the group",
            vec![up(1), warming(2, now, 0.0)],
            Duration::ZERO,
            vec![n as usize / 2, n as usize / 2],
        ),
        (
            "no healthy target: every target, fully (fail open)",
            vec![Candidate { healthy: false, ..warming(1, now, 0.0) }, down(2)],
            WINDOW,
            vec![n as usize / 2, n as usize / 2],
        ),
    ];
    for (what, targets, slow_start, want) in cases {
        assert_eq!(&shares(targets, Algorithm::RoundRobin, *slow_start, now, n), want, "{what}");
    }
}

#[test]
fn least_outstanding_requests_with_a_target_in_slow_start_still_favours_the_idle() {
    let now = Instant::now();
    // The warming target is idle but admitted to only half the picks; when it is not,
    // the least busy of the others gets the request.
    let targets = [busy(1, 4), busy(2, 2), warming(3, now, 0.5)];
    let counts = shares(&targets, Algorithm::LeastOutstandingRequests, WINDOW, now, 10_000);
    assert_eq!(counts[0], 0);
    assert!((counts[2] as f64 / 10_000.0 - 0.5).abs() < 0.01, "{counts:?}");
}

#[test]
fn weighted_random_spreads_evenly_over_healthy_targets() {
    let targets = [up(1), down(2), up(3), up(4)];
    let counts = shares(&targets, Algorithm::WeightedRandom, Duration::ZERO, Instant::now(), 30_000);
    assert_eq!(counts[1], 0);
    for i in [0, 2, 3] {
        assert!((counts[i] as f64 / 30_000.0 - 1.0 / 3.0).abs() < 0.02, "{counts:?}");
    }
    let order = picks(&targets, Algorithm::WeightedRandom, 12);
    assert_ne!(order, picks(&targets, Algorithm::RoundRobin, 12), "not in turn");
}

#[test]
fn in_flight_counters_are_shared_and_released_by_their_guards() {
    let load = Load::default();
    let a = load.in_flight("tg", addr(1));
    assert!(Arc::ptr_eq(&a, &load.in_flight("tg", addr(1))), "one counter per target, whoever asks");
    assert!(!Arc::ptr_eq(&a, &load.in_flight("other", addr(1))), "per target group");
    let first = InFlight::start(&a);
    let second = InFlight::start(&a);
    assert_eq!(a.load(Ordering::Relaxed), 2);
    drop(first);
    assert_eq!(a.load(Ordering::Relaxed), 1);

    // Nobody serves the target any more, but a request is still in flight: kept.
    drop(a);
    load.prune(&HashSet::new(), &HashSet::new());
    let again = load.in_flight("tg", addr(1));
    assert_eq!(again.load(Ordering::Relaxed), 1, "the same counter, still counting");
    drop(second);
    assert_eq!(again.load(Ordering::Relaxed), 0);
    drop(again);
    load.prune(&HashSet::new(), &HashSet::new());
    assert!(load.in_flight.lock().unwrap().is_empty(), "forgotten once nobody serves or counts it");

    let cursor = load.cursor("tg");
    cursor.fetch_add(5, Ordering::Relaxed);
    assert_eq!(load.cursor("tg").load(Ordering::Relaxed), 5, "a group's cursor survives rebuilds");
    drop(cursor);
    load.prune(&HashSet::from(["tg".to_string()]), &HashSet::new());
    assert_eq!(load.cursor("tg").load(Ordering::Relaxed), 5, "kept while the group is served");
    load.prune(&HashSet::new(), &HashSet::new());
    assert_eq!(load.cursor("tg").load(Ordering::Relaxed), 0, "forgotten once it is not");
}
