//! Table-driven placement cases (Nomad-style harness): a cluster, a request, and the
//! instances the tasks must land on or the failures ECS would report.

use flotilla_placement::snapshot::attrs::{AVAILABILITY_ZONE, INSTANCE_TYPE};
use flotilla_placement::{
    FailureReason, InstanceSpec, InstanceStatus, PlacementConstraint, PlacementError, PlacementStrategy, Snapshot,
    TaskRequest, TaskResources, place,
};

fn inst(name: &str, cpu: u32, mem: u32, az: &str) -> InstanceSpec {
    InstanceSpec::new(name, format!("i-{name}"), cpu, mem)
        .attribute(AVAILABILITY_ZONE, Some(az))
        .attribute(INSTANCE_TYPE, Some(if name.starts_with('t') { "t2.small" } else { "m5.large" }))
}

fn res(cpu: u32, mem: u32) -> TaskResources {
    TaskResources { cpu, memory: mem, ..Default::default() }
}

fn strategies(s: &[(&str, Option<&str>)]) -> Vec<PlacementStrategy> {
    PlacementStrategy::parse_all(s.iter().copied()).unwrap()
}

fn constraints(c: &[(&str, Option<&str>)]) -> Vec<PlacementConstraint> {
    PlacementConstraint::parse_all(c.iter().copied()).unwrap()
}

enum Want {
    /// Exact sequence of instance names.
    Sequence(&'static [&'static str]),
    /// Placed count per instance name (order free).
    Counts(&'static [(&'static str, u32)]),
    /// Placed `n` tasks then failed with these per-instance reasons.
    Fails(usize, &'static [(&'static str, &'static str)]),
}

struct Case {
    name: &'static str,
    cluster: Vec<InstanceSpec>,
    req: TaskRequest,
    want: Want,
}

fn req(r: TaskResources, count: u32, s: &[(&str, Option<&str>)], c: &[(&str, Option<&str>)]) -> TaskRequest {
    let mut t = TaskRequest::new(r, "family:web", count);
    t.strategies = strategies(s);
    t.constraints = constraints(c);
    t.seed = 42;
    t
}

fn cases() -> Vec<Case> {
    let mut draining = inst("d", 4096, 4096, "us-east-1a");
    draining.status = InstanceStatus::Draining;
    let mut disconnected = inst("x", 4096, 4096, "us-east-1a");
    disconnected.agent_connected = false;
    let mut port80 = inst("p", 4096, 4096, "us-east-1a");
    port80.used_tcp_ports = vec![80];
    let mut udp53 = inst("u", 4096, 4096, "us-east-1a");
    udp53.used_udp_ports = vec![53];
    let mut required = req(res(10, 10), 1, &[], &[]);
    required.required_attributes = vec![("com.example.gpu".into(), None)];

    vec![
        Case {
            name: "binpack memory picks the least remaining memory that still fits",
            cluster: vec![inst("a", 4096, 4096, "z"), inst("b", 4096, 1024, "z"), inst("c", 4096, 600, "z")],
            req: req(res(10, 512), 4, &[("binpack", Some("memory"))], &[]),
            want: Want::Sequence(&["c", "b", "b", "a"]),
        },
        Case {
            name: "binpack cpu picks the least remaining cpu",
            cluster: vec![inst("a", 2048, 4096, "z"), inst("b", 1024, 4096, "z"), inst("c", 256, 4096, "z")],
            req: req(res(512, 10), 3, &[("binpack", Some("cpu"))], &[]),
            want: Want::Sequence(&["b", "b", "a"]),
        },
        Case {
            name: "spread instanceId balances the group",
            cluster: vec![inst("a", 4096, 4096, "z"), inst("b", 4096, 4096, "z"), inst("c", 4096, 4096, "z")],
            req: req(res(10, 10), 6, &[("spread", Some("instanceId"))], &[]),
            want: Want::Counts(&[("a", 2), ("b", 2), ("c", 2)]),
        },
        Case {
            name: "spread host counts existing tasks of the group only",
            cluster: vec![
                inst("a", 4096, 4096, "z").group("family:web", 2),
                inst("b", 4096, 4096, "z").group("family:other", 5),
                inst("c", 4096, 4096, "z"),
            ],
            req: req(res(10, 10), 4, &[("spread", Some("host"))], &[]),
            want: Want::Counts(&[("a", 0), ("b", 2), ("c", 2)]),
        },
        Case {
            name: "spread on availability zone balances zones, not instances",
            cluster: vec![
                inst("a", 4096, 4096, "us-east-1a").group("family:web", 1),
                inst("b", 4096, 4096, "us-east-1a"),
                inst("c", 4096, 4096, "us-east-1b"),
            ],
            req: req(res(10, 10), 3, &[("spread", Some("attribute:ecs.availability-zone"))], &[]),
            want: Want::Counts(&[("c", 2)]),
        },
        Case {
            name: "spread zone then binpack memory",
            cluster: vec![
                inst("a", 4096, 1000, "us-east-1a"),
                inst("b", 4096, 2000, "us-east-1a"),
                inst("c", 4096, 3000, "us-east-1b"),
            ],
            req: req(
                res(10, 512),
                4,
                &[("spread", Some("attribute:ecs.availability-zone")), ("binpack", Some("memory"))],
                &[],
            ),
            want: Want::Sequence(&["a", "c", "b", "c"]),
        },
        Case {
            name: "spread instanceId then binpack memory",
            cluster: vec![inst("a", 4096, 4000, "z"), inst("b", 4096, 2000, "z"), inst("c", 4096, 3000, "z")],
            req: req(res(10, 100), 4, &[("spread", Some("instanceId")), ("binpack", Some("memory"))], &[]),
            want: Want::Sequence(&["b", "c", "a", "b"]),
        },
        Case {
            name: "binpack memory then spread zone breaks memory ties by zone (slow path)",
            cluster: vec![
                inst("a", 4096, 1000, "us-east-1a").group("family:web", 1),
                inst("b", 4096, 1000, "us-east-1b"),
                inst("c", 4096, 5000, "us-east-1c"),
            ],
            req: req(
                res(10, 100),
                2,
                &[("binpack", Some("memory")), ("spread", Some("attribute:ecs.availability-zone"))],
                &[],
            ),
            want: Want::Sequence(&["b", "b"]),
        },
        Case {
            name: "random strategy stops the chain; only feasible instances are used",
            cluster: vec![inst("a", 4096, 4096, "z"), inst("b", 4096, 100, "z"), inst("c", 4096, 4096, "z")],
            req: req(res(10, 512), 10, &[("random", None), ("binpack", Some("memory"))], &[]),
            want: Want::Counts(&[("b", 0)]),
        },
        Case {
            name: "distinctInstance places one task of the group per instance",
            cluster: vec![
                inst("a", 4096, 4096, "z"),
                inst("b", 4096, 4096, "z").group("family:web", 1),
                inst("c", 4096, 4096, "z"),
            ],
            req: req(res(10, 10), 3, &[("binpack", Some("memory"))], &[("distinctInstance", None)]),
            want: Want::Fails(
                2,
                &[
                    ("a", "DistinctInstance placement constraint unsatisfied."),
                    ("b", "DistinctInstance placement constraint unsatisfied."),
                    ("c", "DistinctInstance placement constraint unsatisfied."),
                ],
            ),
        },
        Case {
            name: "memberOf restricts to matching instances",
            cluster: vec![inst("t1", 4096, 4096, "z"), inst("m1", 4096, 4096, "z"), inst("t2", 4096, 4096, "z")],
            req: req(
                res(10, 10),
                4,
                &[("spread", Some("instanceId"))],
                &[("memberOf", Some("attribute:ecs.instance-type =~ t2.*"))],
            ),
            want: Want::Counts(&[("t1", 2), ("t2", 2), ("m1", 0)]),
        },
        Case {
            name: "dynamic memberOf on runningTasksCount stops at the limit",
            cluster: vec![inst("a", 4096, 4096, "z"), inst("b", 4096, 4096, "z").group("family:x", 1)],
            req: req(res(10, 10), 5, &[("binpack", Some("memory"))], &[("memberOf", Some("runningTasksCount < 2"))]),
            want: Want::Fails(
                3,
                &[
                    ("a", "MemberOf placement constraint unsatisfied."),
                    ("b", "MemberOf placement constraint unsatisfied."),
                ],
            ),
        },
        Case {
            name: "task:group memberOf co-locates with another group",
            cluster: vec![inst("a", 4096, 4096, "z"), inst("b", 4096, 4096, "z").group("service:db", 1)],
            req: req(res(10, 10), 2, &[("random", None)], &[("memberOf", Some("task:group == service:db"))]),
            want: Want::Sequence(&["b", "b"]),
        },
        Case {
            name: "resources: reasons per instance in ECS order",
            cluster: vec![
                inst("cpu", 100, 4096, "z"),
                inst("mem", 4096, 100, "z"),
                port80,
                udp53,
                disconnected,
                draining,
                inst("ok", 4096, 1024, "z"),
            ],
            req: {
                let mut r = req(res(512, 1024), 2, &[("binpack", Some("memory"))], &[]);
                r.resources.tcp_ports = vec![80];
                r.resources.udp_ports = vec![53];
                r
            },
            want: Want::Fails(
                1,
                &[
                    ("cpu", "RESOURCE:CPU"),
                    ("mem", "RESOURCE:MEMORY"),
                    ("p", "RESOURCE:PORTS"),
                    ("u", "RESOURCE:PORTS_UDP"),
                    ("x", "AGENT"),
                    ("ok", "RESOURCE:MEMORY"),
                ],
            ),
        },
        Case {
            name: "static host port: one task per instance",
            cluster: vec![inst("a", 4096, 4096, "z"), inst("b", 4096, 4096, "z")],
            req: {
                let mut r = req(res(10, 10), 3, &[("binpack", Some("memory"))], &[]);
                r.resources.tcp_ports = vec![8080];
                r
            },
            want: Want::Fails(2, &[("a", "RESOURCE:PORTS"), ("b", "RESOURCE:PORTS")]),
        },
        Case {
            name: "required attribute missing",
            cluster: vec![inst("a", 4096, 4096, "z")],
            req: required,
            want: Want::Fails(0, &[("a", "ATTRIBUTE")]),
        },
        Case {
            name: "required attribute with a value",
            cluster: vec![
                inst("a", 4096, 4096, "z").attribute("ecs.capability.gpu", Some("1")),
                inst("b", 4096, 4096, "z").attribute("ecs.capability.gpu", Some("2")),
            ],
            req: {
                let mut r = req(res(10, 10), 2, &[("random", None)], &[]);
                r.required_attributes = vec![("ecs.capability.gpu".into(), Some("2".into()))];
                r
            },
            want: Want::Sequence(&["b", "b"]),
        },
        Case {
            name: "spread on an attribute some instances lack: they share one bucket",
            cluster: vec![
                inst("a", 4096, 4096, "z").attribute("rack", Some("r1")),
                InstanceSpec::new("b", "i-b", 4096, 4096),
                InstanceSpec::new("c", "i-c", 4096, 4096),
            ],
            req: req(res(10, 10), 4, &[("spread", Some("attribute:rack"))], &[]),
            want: Want::Counts(&[("a", 2)]),
        },
        Case {
            name: "memberOf on agentVersion, ec2InstanceId and registeredAt",
            cluster: vec![
                {
                    let mut a = inst("a", 4096, 4096, "z");
                    a.agent_version = "1.20.0".into();
                    a.registered_at_ms = 1_600_000_000_000; // 2020-09-13
                    a
                },
                {
                    let mut b = inst("b", 4096, 4096, "z");
                    b.agent_version = "1.80.0".into();
                    b.registered_at_ms = 1_700_000_000_000; // 2023-11-14
                    b
                },
                {
                    let mut c = inst("c", 4096, 4096, "z");
                    c.agent_version = "1.80.0".into();
                    c.registered_at_ms = 1_700_000_000_000;
                    c
                },
            ],
            req: req(
                res(10, 10),
                2,
                &[("random", None)],
                &[
                    ("memberOf", Some("agentVersion >= 1.50.0")),
                    ("memberOf", Some("registeredAt > 2021-01-01T00:00:00Z")),
                    ("memberOf", Some("ec2InstanceId != i-c")),
                ],
            ),
            want: Want::Sequence(&["b", "b"]),
        },
        Case {
            name: "draining instances get nothing",
            cluster: vec![
                {
                    let mut d = inst("d", 4096, 4096, "z");
                    d.status = InstanceStatus::Draining;
                    d
                },
                inst("a", 4096, 4096, "z"),
            ],
            req: req(res(10, 10), 3, &[("random", None)], &[]),
            want: Want::Sequence(&["a", "a", "a"]),
        },
    ]
}

#[test]
fn placement_table() {
    for case in cases() {
        let mut snap = Snapshot::new();
        for i in &case.cluster {
            snap.push(i.clone());
        }
        let out = place(&mut snap, &case.req).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let names: Vec<&str> = out.placements.iter().map(|id| snap.arn(*id)).collect();
        match case.want {
            Want::Sequence(seq) => {
                assert_eq!(names, seq, "{}", case.name);
                assert_eq!(out.unplaced, 0, "{}", case.name);
            }
            Want::Counts(counts) => {
                assert_eq!(out.unplaced, 0, "{}", case.name);
                for (n, c) in counts {
                    assert_eq!(names.iter().filter(|x| *x == n).count() as u32, *c, "{}: {n} in {names:?}", case.name);
                }
            }
            Want::Fails(placed, reasons) => {
                assert_eq!(out.placements.len(), placed, "{}: {names:?}", case.name);
                let got: Vec<(&str, &str)> = out.failures.iter().map(|f| (f.arn.as_str(), f.reason.as_str())).collect();
                assert_eq!(got, reasons, "{}", case.name);
            }
        }
    }
}

#[test]
fn same_seed_same_placements_other_seed_differs() {
    let build = || {
        let mut s = Snapshot::new();
        for i in 0..50 {
            s.push(inst(&format!("n{i}"), 4096, 4096, "z"));
        }
        s
    };
    let run = |seed| {
        let mut s = build();
        let mut r = req(res(10, 10), 10, &[("random", None)], &[]);
        r.seed = seed;
        place(&mut s, &r).unwrap().placements
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn closest_reason_is_the_furthest_stage() {
    let mut s = Snapshot::new();
    s.push(inst("small", 4096, 10, "z"));
    s.push(inst("m1", 4096, 4096, "z"));
    let r = req(res(10, 100), 1, &[], &[("memberOf", Some("attribute:ecs.instance-type == t2.small"))]);
    let out = place(&mut s, &r).unwrap();
    assert_eq!(out.unplaced, 1);
    assert_eq!(out.closest_reason(), Some(FailureReason::MemberOf));
    assert_eq!(out.failures[0].reason, FailureReason::ResourceMemory);
}

#[test]
fn request_errors() {
    let mut empty = Snapshot::new();
    let r = req(res(1, 1), 1, &[], &[]);
    assert_eq!(place(&mut empty, &r).unwrap_err(), PlacementError::NoContainerInstances);
    let mut s = Snapshot::new();
    s.push(inst("a", 1, 1, "z"));
    let mut zero = r.clone();
    zero.count = 0;
    assert_eq!(place(&mut s, &zero).unwrap_err(), PlacementError::InvalidCount { count: 0 });
    let mut many = r.clone();
    many.strategies = vec![PlacementStrategy::Random; 6];
    assert!(matches!(place(&mut s, &many), Err(PlacementError::Strategy(_))));
    let mut cons = r;
    cons.constraints = vec![PlacementConstraint::DistinctInstance; 11];
    assert!(matches!(place(&mut s, &cons), Err(PlacementError::Constraint(_))));
}

#[test]
fn snapshot_is_updated_incrementally_across_calls() {
    let mut s = Snapshot::new();
    let a = s.push(inst("a", 4096, 1024, "z"));
    let mut r = req(res(256, 256), 3, &[("binpack", Some("memory"))], &[]);
    r.resources.tcp_ports = vec![];
    place(&mut s, &r).unwrap();
    assert_eq!(s.remaining_memory(a), 256);
    assert_eq!(s.group_count(a, "family:web"), 3);
    let out = place(&mut s, &r).unwrap();
    assert_eq!(out.placements.len(), 1);
    assert_eq!(out.unplaced, 2);
    assert_eq!(out.failures[0].reason.as_str(), "RESOURCE:MEMORY");
}

/// Ties must not stick to one instance: with `random`, and within a zone with
/// `spread` on the zone only (the service default), every instance gets a fair share.
#[test]
fn ties_are_shared_fairly() {
    for (strats, per_instance) in [
        (vec![("random", None)], 1000usize),
        (vec![("spread", Some("attribute:ecs.availability-zone"))], 1000),
        (vec![], 1000),
    ] {
        let mut s = Snapshot::new();
        for i in 0..6 {
            s.push(inst(&format!("n{i}"), 1 << 20, 1 << 20, ["a", "b"][i % 2]));
        }
        let r = req(res(1, 1), 6 * per_instance as u32, &strats, &[]);
        let out = place(&mut s, &r).unwrap();
        for id in s.ids() {
            let n = out.placements.iter().filter(|p| **p == id).count();
            assert!(
                n * 10 >= per_instance * 8 && n * 10 <= per_instance * 12,
                "{strats:?}: instance {id:?} got {n} of {}",
                out.placements.len()
            );
        }
    }
}

#[test]
fn failure_reason_strings_are_ecs_strings() {
    let table = [
        (FailureReason::Agent, "AGENT"),
        (FailureReason::Attribute, "ATTRIBUTE"),
        (FailureReason::ResourceCpu, "RESOURCE:CPU"),
        (FailureReason::ResourceMemory, "RESOURCE:MEMORY"),
        (FailureReason::ResourcePorts, "RESOURCE:PORTS"),
        (FailureReason::ResourcePortsUdp, "RESOURCE:PORTS_UDP"),
        (FailureReason::MemberOf, "MemberOf placement constraint unsatisfied."),
        (FailureReason::DistinctInstance, "DistinctInstance placement constraint unsatisfied."),
    ];
    for (r, s) in table {
        assert_eq!(r.as_str(), s);
    }
}
