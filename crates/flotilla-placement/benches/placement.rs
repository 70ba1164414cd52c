//! Placement benchmark: prints one machine-readable line per figure.
//!
//! Run with `cargo bench -p flotilla-placement` (release profile). Not a timed test:
//! nothing here fails on slowness.

// The counting allocator below is the one place the workspace allows `unsafe`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use flotilla_placement::cql::{self, Compiled};
use flotilla_placement::snapshot::attrs;
use flotilla_placement::{
    InstanceSpec, PlacementConstraint, PlacementStrategy, Placer, Snapshot, TaskRequest, TaskResources, place,
};

/// Counts live heap bytes so the snapshot's footprint can be measured.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const AZS: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
const TYPES: [&str; 4] = ["t3.large", "t3.xlarge", "t3.medium", "m5.large"];

fn cluster(n: usize) -> Snapshot {
    let mut s = Snapshot::new();
    for i in 0..n {
        let mut spec = InstanceSpec::new(
            format!("arn:aws:ecs:us-east-1:000000000000:container-instance/default/{i:032x}"),
            format!("i-{i:017x}"),
            8192,
            65536,
        )
        .attribute(attrs::AVAILABILITY_ZONE, Some(AZS[i % 3]))
        .attribute(attrs::INSTANCE_TYPE, Some(TYPES[(i / 3) % 4]))
        .attribute(attrs::OS_TYPE, Some("linux"))
        .attribute(attrs::CPU_ARCHITECTURE, Some("x86_64"))
        .attribute(attrs::AMI_ID, Some("ami-0123456789abcdef0"))
        .attribute("ecs.capability.docker-remote-api.1.41", None);
        spec.agent_version = "1.82.0".into();
        spec.registered_at_ms = 1_700_000_000_000 + i as i64;
        spec.used_tcp_ports = vec![22, 2375, 2376, 51678, 51679];
        s.push(spec);
    }
    s
}

fn task() -> TaskResources {
    TaskResources { cpu: 16, memory: 128, tcp_ports: vec![], udp_ports: vec![] }
}

fn strategies(s: &[(&str, Option<&str>)]) -> Vec<PlacementStrategy> {
    PlacementStrategy::parse_all(s.iter().copied()).unwrap()
}

const COMPOUND: &str = "attribute:ecs.instance-type =~ t3.* and (attribute:ecs.availability-zone in [us-east-1a, us-east-1b] or runningTasksCount < 50)";

/// `FLOTILLA_BENCH_ONLY=NAME` runs only the scenarios whose name contains NAME.
fn selected(name: &str) -> bool {
    std::env::var("FLOTILLA_BENCH_ONLY").map_or(true, |o| name.contains(&o))
}

fn run(
    name: &str,
    instances: usize,
    tasks: u32,
    strategies: Vec<PlacementStrategy>,
    constraints: Vec<PlacementConstraint>,
) {
    if !selected(name) {
        return;
    }
    let mut snap = cluster(instances);
    let mut req = TaskRequest::new(task(), "service:bench", tasks);
    req.strategies = strategies;
    req.constraints = constraints;
    req.seed = 7;
    let start = Instant::now();
    let mut placer = Placer::new(&mut snap, &req).unwrap();
    let prepare = start.elapsed().as_secs_f64();
    let mut placed = 0u32;
    for _ in 0..tasks {
        match placer.place_one() {
            Some(id) => {
                black_box(id);
                placed += 1;
            }
            None => break,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "placement scenario={name} instances={instances} tasks={tasks} placed={placed} prepare_seconds={prepare:.4} seconds={secs:.3} placements_per_sec={:.0} us_per_placement={:.3}",
        placed as f64 / secs,
        secs * 1e6 / placed.max(1) as f64
    );
}

fn main() {
    // the libtest harness passes --bench; accept and ignore arguments
    let quick = std::env::args().any(|a| a == "--quick");

    let million: u32 = if quick { 100_000 } else { 1_000_000 };

    run("binpack_memory", 5000, million, strategies(&[("binpack", Some("memory"))]), vec![]);
    run(
        "spread_az_binpack_memory",
        5000,
        million,
        strategies(&[("spread", Some("attribute:ecs.availability-zone")), ("binpack", Some("memory"))]),
        vec![],
    );
    run(
        "memberof_compound_spread_instance",
        5000,
        million,
        strategies(&[("spread", Some("instanceId"))]),
        vec![PlacementConstraint::member_of(COMPOUND).unwrap()],
    );
    run("random", 5000, million, strategies(&[("random", None)]), vec![]);
    run(
        "az_balanced_spread",
        5000,
        million,
        strategies(&[("spread", Some("attribute:ecs.availability-zone")), ("spread", Some("instanceId"))]),
        vec![],
    );

    // RunTask-shaped: many calls of count 10, each preparing its own placer
    if selected("run_task_calls") {
        let mut snap = cluster(5000);
        let calls = if quick { 1000 } else { 10_000 };
        let mut req = TaskRequest::new(task(), "family:web", 10);
        req.strategies =
            strategies(&[("spread", Some("attribute:ecs.availability-zone")), ("binpack", Some("memory"))]);
        let start = Instant::now();
        let mut placed = 0usize;
        for c in 0..calls {
            req.seed = c as u64;
            placed += place(&mut snap, &req).unwrap().placements.len();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "placement scenario=run_task_calls instances=5000 calls={calls} count=10 placed={placed} seconds={secs:.3} calls_per_sec={:.0} placements_per_sec={:.0}",
            calls as f64 / secs,
            placed as f64 / secs
        );
    }

    // CQL parse and evaluate
    if selected("cql") {
        let n = if quick { 20_000 } else { 200_000 };
        let start = Instant::now();
        for _ in 0..n {
            black_box(cql::parse(black_box(COMPOUND)).unwrap());
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "cql scenario=parse expression_chars={} parses={n} seconds={secs:.3} parses_per_sec={:.0}",
            COMPOUND.len(),
            n as f64 / secs
        );
        let no_regex = COMPOUND.replace("=~ t3.*", "== t3.*");
        let start = Instant::now();
        for _ in 0..n {
            black_box(cql::parse(black_box(&no_regex)).unwrap());
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "cql scenario=parse_without_regex expression_chars={} parses={n} seconds={secs:.3} parses_per_sec={:.0}",
            no_regex.len(),
            n as f64 / secs
        );

        let snap = cluster(5000);
        let expr = cql::parse(COMPOUND).unwrap();
        let compiled = Compiled::new(&expr, &snap);
        let rounds = if quick { 20 } else { 200 };
        let start = Instant::now();
        let mut hits = 0usize;
        for _ in 0..rounds {
            hits += compiled.select(&snap).len();
        }
        let secs = start.elapsed().as_secs_f64();
        let evals = rounds * snap.len();
        println!(
            "cql scenario=evaluate instances=5000 evaluations={evals} matched={} seconds={secs:.3} evaluations_per_sec={:.0}",
            hits / rounds,
            evals as f64 / secs
        );
        let start = Instant::now();
        for _ in 0..n / 10 {
            let e = cql::parse(black_box(COMPOUND)).unwrap();
            black_box(Compiled::new(&e, &snap));
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "cql scenario=parse_and_compile parses={} seconds={secs:.3} per_sec={:.0}",
            n / 10,
            (n / 10) as f64 / secs
        );
    }

    // memory of a 5,000-instance snapshot
    if selected("memory") {
        let before = LIVE.load(Ordering::Relaxed);
        let snap = cluster(5000);
        let after = LIVE.load(Ordering::Relaxed);
        println!(
            "snapshot scenario=memory instances=5000 attributes_per_instance=6 measured_bytes={} computed_bytes={} bytes_per_instance={}",
            after - before,
            snap.approx_bytes(),
            (after - before) / 5000
        );
        drop(snap);
    }

    // scaling
    for n in [500usize, 5000, 50_000] {
        let tasks = (if quick { 20_000 } else { 200_000 }).min(n as u32 * 100);
        run("scale_binpack_memory", n, tasks, strategies(&[("binpack", Some("memory"))]), vec![]);
        run(
            "scale_spread_az_binpack_memory",
            n,
            tasks,
            strategies(&[("spread", Some("attribute:ecs.availability-zone")), ("binpack", Some("memory"))]),
            vec![],
        );
        run(
            "scale_memberof_spread_instance",
            n,
            tasks,
            strategies(&[("spread", Some("instanceId"))]),
            vec![PlacementConstraint::member_of(COMPOUND).unwrap()],
        );
    }
}
