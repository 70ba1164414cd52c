use super::*;
use Health::{Healthy, Unhealthy};
use Lifecycle::{InService, Pending, Terminating};

const NOW: i64 = 10 * 3_600_000;
const A: &str = "us-east-1a";
const B: &str = "us-east-1b";

fn group(desired: i64, zones: &[&str]) -> GroupView {
    GroupView {
        desired,
        zones: zones.iter().map(|z| z.to_string()).collect(),
        launch_configuration: "lc-2".into(),
        termination_policies: vec!["Default".into()],
        launch_failures: 0,
        retry_launch_at: None,
        deleting: false,
    }
}

/// An instance: id, zone, lifecycle, health, protected, launch configuration, minutes
/// it has run.
fn inst(
    id: &str,
    zone: &str,
    lifecycle: Lifecycle,
    health: Health,
    protected: bool,
    lc: &str,
    minutes: i64,
) -> InstanceView {
    InstanceView {
        id: id.into(),
        zone: zone.into(),
        lifecycle,
        health,
        protected,
        launch_configuration: lc.into(),
        launched_at: NOW - minutes * 60_000,
    }
}

fn ok(id: &str, zone: &str, minutes: i64) -> InstanceView {
    inst(id, zone, InService, Healthy, false, "lc-2", minutes)
}

fn scale_in(ids: &[&str]) -> Vec<(String, Why)> {
    ids.iter().map(|i| (i.to_string(), Why::ScaleIn)).collect()
}

#[test]
fn the_decision_keeps_desired_capacity() {
    struct Case {
        what: &'static str,
        group: GroupView,
        instances: Vec<InstanceView>,
        terminate: Vec<(String, Why)>,
        launch: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            what: "nothing wanted, nothing there",
            group: group(0, &[A]),
            instances: vec![],
            terminate: vec![],
            launch: vec![],
        },
        Case {
            what: "0 → 2 across two zones: one each",
            group: group(2, &[A, B]),
            instances: vec![],
            terminate: vec![],
            launch: vec![A, B],
        },
        Case {
            what: "launches go to the zone with fewest",
            group: group(3, &[A, B]),
            instances: vec![ok("i-1", A, 5)],
            terminate: vec![],
            launch: vec![B, A],
        },
        Case {
            what: "pending instances count as capacity",
            group: group(2, &[A]),
            instances: vec![inst("i-1", A, Pending, Healthy, false, "lc-2", 0), ok("i-2", A, 3)],
            terminate: vec![],
            launch: vec![],
        },
        Case {
            what: "terminating instances do not count: a replacement is launched",
            group: group(1, &[A]),
            instances: vec![inst("i-1", A, Terminating, Healthy, false, "lc-2", 9)],
            terminate: vec![],
            launch: vec![A],
        },
        Case {
            what: "an unhealthy instance is replaced, protected or not",
            group: group(2, &[A]),
            instances: vec![inst("i-1", A, InService, Unhealthy, true, "lc-2", 9), ok("i-2", A, 3)],
            terminate: vec![("i-1".into(), Why::Unhealthy)],
            launch: vec![A],
        },
        Case {
            what: "2 → 0 skips the protected one",
            group: group(0, &[A]),
            instances: vec![inst("i-1", A, InService, Healthy, true, "lc-2", 9), ok("i-2", A, 3)],
            terminate: scale_in(&["i-2"]),
            launch: vec![],
        },
        Case {
            what: "all protected: no scale in at all",
            group: group(0, &[A]),
            instances: vec![
                inst("i-1", A, InService, Healthy, true, "lc-2", 9),
                inst("i-2", A, InService, Healthy, true, "lc-2", 3),
            ],
            terminate: vec![],
            launch: vec![],
        },
        Case {
            what: "force delete terminates protected instances too",
            group: GroupView { deleting: true, ..group(2, &[A]) },
            instances: vec![inst("i-1", A, InService, Healthy, true, "lc-2", 9), ok("i-2", A, 3)],
            terminate: scale_in(&["i-1", "i-2"]),
            launch: vec![],
        },
        Case {
            what: "scale in balances zones first: the zone with most goes",
            group: group(2, &[A, B]),
            instances: vec![ok("i-1", A, 50), ok("i-2", B, 10), ok("i-3", B, 20)],
            terminate: scale_in(&["i-3"]),
            launch: vec![],
        },
        Case {
            what: "default policy: an old launch configuration goes first",
            group: group(1, &[A]),
            instances: vec![ok("i-1", A, 30), inst("i-2", A, InService, Healthy, false, "lc-1", 10)],
            terminate: scale_in(&["i-2"]),
            launch: vec![],
        },
        Case {
            what: "default policy: then the one closest to the next instance hour",
            group: group(1, &[A]),
            // 50 minutes in: 10 left; 119 minutes in: 1 left; 5 minutes in: 55 left.
            instances: vec![ok("i-1", A, 50), ok("i-2", A, 119), ok("i-3", A, 5)],
            terminate: scale_in(&["i-2", "i-1"]),
            launch: vec![],
        },
        Case {
            what: "OldestInstance",
            group: GroupView { termination_policies: vec!["OldestInstance".into()], ..group(1, &[A]) },
            instances: vec![ok("i-1", A, 50), ok("i-2", A, 119), ok("i-3", A, 5)],
            terminate: scale_in(&["i-2", "i-1"]),
            launch: vec![],
        },
        Case {
            what: "NewestInstance",
            group: GroupView { termination_policies: vec!["NewestInstance".into()], ..group(1, &[A]) },
            instances: vec![ok("i-1", A, 50), ok("i-2", A, 119), ok("i-3", A, 5)],
            terminate: scale_in(&["i-3", "i-1"]),
            launch: vec![],
        },
        Case {
            what: "after failed launches, nothing before the retry time",
            group: GroupView { launch_failures: 2, retry_launch_at: Some(NOW + 1), ..group(3, &[A]) },
            instances: vec![],
            terminate: vec![],
            launch: vec![],
        },
        Case {
            what: "then a single launch probes",
            group: GroupView { launch_failures: 2, retry_launch_at: Some(NOW), ..group(3, &[A]) },
            instances: vec![],
            terminate: vec![],
            launch: vec![A],
        },
        Case {
            what: "no zones: nothing can be launched",
            group: group(1, &[]),
            instances: vec![],
            terminate: vec![],
            launch: vec![],
        },
    ];
    for case in cases {
        let got = decide(&case.group, &case.instances, NOW);
        assert_eq!(got.terminate, case.terminate, "{}: terminate", case.what);
        assert_eq!(got.launch, case.launch.iter().map(|z| z.to_string()).collect::<Vec<_>>(), "{}: launch", case.what);
    }
}

#[test]
fn backoff_doubles_to_five_minutes() {
    let got: Vec<u64> = (0..8).map(|n| launch_backoff(n).as_secs()).collect();
    assert_eq!(got, [0, 10, 20, 40, 80, 160, 300, 300]);
    assert_eq!(launch_backoff(u32::MAX), MAX_RETRY);
}
