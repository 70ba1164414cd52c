//! Property tests over random clusters and request streams. An independent oracle
//! replays every placement on a copy of the snapshot and checks it: the chosen
//! instance was feasible (resources, ports, state, constraints), it is among the
//! candidates ECS's filter chain of strategies would keep, and the engine only gives up
//! when the oracle finds no feasible instance.

use flotilla_placement::cql::Compiled;
use flotilla_placement::snapshot::attrs::{AVAILABILITY_ZONE, INSTANCE_TYPE};
use flotilla_placement::strategy::{BinpackField, SpreadField};
use flotilla_placement::{
    InstanceId, InstanceSpec, InstanceStatus, PlacementConstraint, PlacementStrategy, Snapshot, TaskRequest,
    TaskResources, place,
};
use proptest::prelude::*;

const AZS: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
const TYPES: [&str; 3] = ["t2.small", "t3.large", "m5.xlarge"];
const PORTS: [u16; 3] = [80, 443, 8080];
const GROUPS: [&str; 2] = ["family:web", "service:api"];
const EXPRS: [&str; 6] = [
    "attribute:ecs.instance-type =~ t.*",
    "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
    "runningTasksCount < 4",
    "not(task:group == service:api)",
    "attribute:ecs.instance-type == t3.* or runningTasksCount <= 1",
    "attribute:rack exists",
];

fn instance() -> impl Strategy<Value = InstanceSpec> {
    (
        0u32..4096,
        0u32..4096,
        0usize..3,
        0usize..3,
        prop::collection::vec(0usize..3, 0..2),
        0u8..10,
        any::<bool>(),
        prop::collection::vec((0usize..2, 1u32..3), 0..2),
    )
        .prop_map(|(cpu, mem, az, ty, ports, state, rack, groups)| {
            let mut s = InstanceSpec::new("", "", cpu, mem)
                .attribute(AVAILABILITY_ZONE, Some(AZS[az]))
                .attribute(INSTANCE_TYPE, Some(TYPES[ty]));
            if rack {
                s = s.attribute("rack", Some("r1"));
            }
            for (g, c) in groups {
                s = s.group(GROUPS[g], c);
            }
            s.used_tcp_ports = ports.into_iter().map(|p| PORTS[p]).collect();
            match state {
                0 => s.status = InstanceStatus::Draining,
                1 => s.agent_connected = false,
                _ => {}
            }
            s
        })
}

fn strategy() -> impl Strategy<Value = PlacementStrategy> {
    prop_oneof![
        Just(PlacementStrategy::Random),
        Just(PlacementStrategy::Binpack(BinpackField::Cpu)),
        Just(PlacementStrategy::Binpack(BinpackField::Memory)),
        Just(PlacementStrategy::Spread(SpreadField::Instance)),
        Just(PlacementStrategy::Spread(SpreadField::Attribute(AVAILABILITY_ZONE.into()))),
        Just(PlacementStrategy::Spread(SpreadField::Attribute(INSTANCE_TYPE.into()))),
    ]
}

fn request() -> impl Strategy<Value = TaskRequest> {
    (
        1u32..700,
        1u32..700,
        prop::collection::vec(0usize..3, 0..2),
        0usize..2,
        prop::collection::vec(strategy(), 0..6),
        prop::collection::vec(0usize..7, 0..3),
        1u32..12,
        any::<u64>(),
    )
        .prop_map(|(cpu, mem, ports, group, strategies, cons, count, seed)| {
            let mut tcp: Vec<u16> = ports.into_iter().map(|p| PORTS[p]).collect();
            tcp.sort_unstable();
            tcp.dedup();
            let mut r = TaskRequest::new(
                TaskResources { cpu, memory: mem, tcp_ports: tcp, udp_ports: vec![] },
                GROUPS[group],
                count,
            );
            r.strategies = strategies;
            r.constraints = cons
                .into_iter()
                .map(|c| {
                    if c == 6 {
                        PlacementConstraint::DistinctInstance
                    } else {
                        PlacementConstraint::member_of(EXPRS[c]).unwrap()
                    }
                })
                .collect();
            r.seed = seed;
            r
        })
}

fn build(cluster: &[InstanceSpec]) -> Snapshot {
    let mut s = Snapshot::new();
    for (i, spec) in cluster.iter().enumerate() {
        let mut spec = spec.clone();
        spec.arn = format!("arn:ci/{i}");
        spec.ec2_instance_id = format!("i-{i}");
        s.push(spec);
    }
    s
}

/// The oracle's feasibility check, written independently of the engine.
fn feasible(s: &Snapshot, id: InstanceId, r: &TaskRequest, compiled: &[Compiled]) -> bool {
    s.status(id) == InstanceStatus::Active
        && s.agent_connected(id)
        && s.remaining_cpu(id) >= r.resources.cpu
        && s.remaining_memory(id) >= r.resources.memory
        && r.resources.tcp_ports.iter().all(|p| !s.tcp_port_used(id, *p))
        && compiled.iter().all(|c| c.eval(s, id))
        && !(r.constraints.contains(&PlacementConstraint::DistinctInstance) && s.group_count(id, &r.group) > 0)
}

/// ECS's filter chain: each strategy keeps the best of what is left.
fn strategy_survivors(s: &Snapshot, mut cands: Vec<InstanceId>, r: &TaskRequest) -> Vec<InstanceId> {
    for st in &r.strategies {
        let key = |id: InstanceId| -> u64 {
            match st {
                PlacementStrategy::Random => 0,
                PlacementStrategy::Binpack(BinpackField::Cpu) => s.remaining_cpu(id) as u64,
                PlacementStrategy::Binpack(BinpackField::Memory) => s.remaining_memory(id) as u64,
                PlacementStrategy::Spread(SpreadField::Instance) => s.group_count(id, &r.group) as u64,
                PlacementStrategy::Spread(SpreadField::Attribute(a)) => {
                    let v = s.attribute(id, a);
                    s.ids().filter(|o| s.attribute(*o, a) == v).map(|o| s.group_count(o, &r.group) as u64).sum()
                }
            }
        };
        if matches!(st, PlacementStrategy::Random) {
            break;
        }
        let min = cands.iter().map(|c| key(*c)).min().unwrap_or(0);
        cands.retain(|c| key(*c) == min);
    }
    cands
}

proptest! {
    // 300 cases by default; PROPTEST_CASES overrides
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300),
        ..ProptestConfig::default()
    })]

    #[test]
    fn placements_are_feasible_and_follow_the_strategies(
        cluster in prop::collection::vec(instance(), 1..25),
        requests in prop::collection::vec(request(), 1..6),
    ) {
        let mut snap = build(&cluster);
        let mut oracle = snap.clone();
        let original = snap.clone();
        for r in &requests {
            let out = place(&mut snap, r).unwrap();
            let compiled: Vec<Compiled> = r.constraints.iter().filter_map(|c| match c {
                PlacementConstraint::MemberOf { expr, .. } => Some(Compiled::new(expr, &oracle)),
                _ => None,
            }).collect();
            for id in &out.placements {
                let cands: Vec<InstanceId> = oracle.ids().filter(|i| feasible(&oracle, *i, r, &compiled)).collect();
                prop_assert!(cands.contains(id), "placed on infeasible instance {id:?}");
                let best = strategy_survivors(&oracle, cands, r);
                prop_assert!(best.contains(id), "{id:?} not among strategy survivors {best:?} for {:?}", r.strategies);
                oracle.add_task(*id, &r.resources, &r.group);
            }
            prop_assert_eq!(out.placements.len() as u32 + out.unplaced, r.count);
            if out.unplaced > 0 {
                let any = oracle.ids().any(|i| feasible(&oracle, i, r, &compiled));
                prop_assert!(!any, "gave up although an instance was feasible");
                prop_assert!(!out.failures.is_empty() || oracle.ids().all(|i| oracle.status(i) != InstanceStatus::Active));
            }
        }
        // never overcommitted: what was placed fits what was free
        for id in snap.ids() {
            prop_assert_eq!(snap.remaining_cpu(id), oracle.remaining_cpu(id));
            prop_assert_eq!(snap.remaining_memory(id), oracle.remaining_memory(id));
            prop_assert!(snap.remaining_cpu(id) <= original.remaining_cpu(id));
        }
    }

    #[test]
    fn never_overcommits(
        cluster in prop::collection::vec(instance(), 1..25),
        requests in prop::collection::vec(request(), 1..8),
    ) {
        let mut snap = build(&cluster);
        let original = snap.clone();
        let mut used_cpu = vec![0u64; snap.len()];
        let mut used_mem = vec![0u64; snap.len()];
        let mut ports: Vec<Vec<u16>> = vec![Vec::new(); snap.len()];
        for r in &requests {
            let out = place(&mut snap, r).unwrap();
            for id in out.placements {
                let i = id.0 as usize;
                used_cpu[i] += r.resources.cpu as u64;
                used_mem[i] += r.resources.memory as u64;
                for p in &r.resources.tcp_ports {
                    prop_assert!(!original.tcp_port_used(id, *p), "port {p} was already used on {id:?}");
                    prop_assert!(!ports[i].contains(p), "port {p} reserved twice on {id:?}");
                    ports[i].push(*p);
                }
                prop_assert_eq!(original.status(id), InstanceStatus::Active);
                prop_assert!(original.agent_connected(id));
            }
        }
        for id in snap.ids() {
            let i = id.0 as usize;
            prop_assert!(used_cpu[i] <= original.remaining_cpu(id) as u64);
            prop_assert!(used_mem[i] <= original.remaining_memory(id) as u64);
        }
    }

    #[test]
    fn spread_keeps_groups_balanced(
        zones in prop::collection::vec(0usize..3, 2..30),
        count in 1u32..60,
        on_instance in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut snap = Snapshot::new();
        for (i, z) in zones.iter().enumerate() {
            snap.push(InstanceSpec::new(format!("arn:{i}"), format!("i-{i}"), 1 << 20, 1 << 20).attribute(AVAILABILITY_ZONE, Some(AZS[*z])));
        }
        let mut r = TaskRequest::new(TaskResources { cpu: 1, memory: 1, ..Default::default() }, "service:x", count);
        r.strategies = vec![if on_instance {
            PlacementStrategy::Spread(SpreadField::Instance)
        } else {
            PlacementStrategy::Spread(SpreadField::Attribute(AVAILABILITY_ZONE.into()))
        }];
        r.seed = seed;
        let out = place(&mut snap, &r).unwrap();
        prop_assert_eq!(out.placements.len() as u32, count);
        let counts: Vec<u32> = if on_instance {
            snap.ids().map(|id| snap.group_count(id, "service:x")).collect()
        } else {
            let mut present: Vec<&str> = zones.iter().map(|z| AZS[*z]).collect();
            present.sort_unstable();
            present.dedup();
            present.iter().map(|z| snap.ids().filter(|id| snap.attribute(*id, AVAILABILITY_ZONE) == Some(Some(z))).map(|id| snap.group_count(id, "service:x")).sum()).collect()
        };
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        prop_assert!(max - min <= 1, "unbalanced {counts:?}");
    }

    #[test]
    fn binpack_always_picks_a_least_remaining_instance(
        mems in prop::collection::vec(0u32..5000, 1..30),
        need in 1u32..1000,
        count in 1u32..20,
        seed in any::<u64>(),
    ) {
        let mut snap = Snapshot::new();
        for (i, m) in mems.iter().enumerate() {
            snap.push(InstanceSpec::new(format!("arn:{i}"), format!("i-{i}"), 1 << 20, *m));
        }
        let mut r = TaskRequest::new(TaskResources { cpu: 1, memory: need, ..Default::default() }, "family:x", 1);
        r.strategies = vec![PlacementStrategy::Binpack(BinpackField::Memory)];
        r.seed = seed;
        for _ in 0..count {
            let least = snap.ids().map(|id| snap.remaining_memory(id)).filter(|m| *m >= need).min();
            let out = place(&mut snap, &r).unwrap();
            match least {
                None => prop_assert_eq!(out.unplaced, 1),
                Some(least) => {
                    let id = out.placements[0];
                    prop_assert_eq!(snap.remaining_memory(id) + need, least);
                }
            }
        }
    }

    #[test]
    fn cql_parser_never_panics(s in "[a-zA-Z:._ =!<>~()\\[\\],'&|*0-9-]{0,60}") {
        let _ = flotilla_placement::cql::parse(&s);
    }
}
