//! Load balancer metrics: the proxies count requests (by who answered and with what
//! class of status) and TCP flows per load balancer and target group; every
//! [`PUBLISH_EVERY`] the data plane turns the counts of the window, with each target
//! group's healthy and unhealthy targets, into CloudWatch datapoints in
//! `AWS/ApplicationELB` (or `AWS/NetworkELB`), dimensions as AWS's:
//! `LoadBalancer` (`app/NAME/ID`) and `TargetGroup` (`targetgroup/NAME/ID`).
//!
//! Counts are sums over the window (CloudWatch's Sum adds windows up);
//! TargetResponseTime is the window's average.

use flotilla_core::metrics::MetricDatum;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// How often counts are published.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(10);

/// Counts of one load balancer (and target group) in a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tally {
    pub requests: u64,
    /// Target answers by class: 2XX, 3XX, 4XX, 5XX.
    pub target: [u64; 4],
    /// Answers the load balancer made itself (fixed responses, redirects, 502/503/504).
    pub elb_3xx: u64,
    pub elb_4xx: u64,
    pub elb_5xx: u64,
    pub response_seconds: f64,
    pub responses: u64,
    pub new_flows: u64,
}

/// Who answered a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    Target { status: u16, seconds: f64 },
    LoadBalancer { status: u16 },
}

/// (load balancer ARN, target group ARN) → counts; `None` for the load balancer's own.
type Key = (String, Option<String>);

/// A load balancer's counts in a window: its own and per target group.
#[derive(Debug, Default)]
struct Counts {
    own: Tally,
    groups: HashMap<String, Tally>,
}

impl Counts {
    /// Its own tally and the group's, allocating a key only the first time.
    fn tallies(&mut self, group: Option<&str>) -> (&mut Tally, Option<&mut Tally>) {
        if let Some(g) = group
            && !self.groups.contains_key(g)
        {
            self.groups.insert(g.to_string(), Tally::default());
        }
        let Counts { own, groups } = self;
        (own, group.and_then(|g| groups.get_mut(g)))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Traffic {
    window: Mutex<HashMap<String, Counts>>,
}

impl Traffic {
    fn with(&self, lb: &str, group: Option<&str>, count: impl Fn(&mut Tally)) {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if !window.contains_key(lb) {
            window.insert(lb.to_string(), Counts::default());
        }
        if let Some(counts) = window.get_mut(lb) {
            let (own, group) = counts.tallies(group);
            count(own);
            if let Some(g) = group {
                count(g);
            }
        }
    }

    /// Counts one request of `lb`, forwarded to `group` (if it was).
    pub fn request(&self, lb: &str, group: Option<&str>, answer: Answer) {
        self.with(lb, group, |t| {
            t.requests += 1;
            match answer {
                Answer::Target { status, seconds } => {
                    if let Some(n) = (status / 100).checked_sub(2).and_then(|i| t.target.get_mut(i as usize)) {
                        *n += 1;
                    }
                    t.response_seconds += seconds;
                    t.responses += 1;
                }
                Answer::LoadBalancer { status } => match status / 100 {
                    3 => t.elb_3xx += 1,
                    4 => t.elb_4xx += 1,
                    5 => t.elb_5xx += 1,
                    _ => {}
                },
            }
        });
    }

    /// Counts one TCP connection of a network load balancer.
    pub fn flow(&self, lb: &str, group: Option<&str>) {
        self.with(lb, group, |t| t.new_flows += 1);
    }

    /// The window's counts, starting a new window.
    pub fn take(&self) -> HashMap<Key, Tally> {
        let window = std::mem::take(&mut *self.window.lock().unwrap_or_else(|p| p.into_inner()));
        let mut out = HashMap::new();
        for (lb, counts) in window {
            for (group, tally) in counts.groups {
                out.insert((lb.clone(), Some(group)), tally);
            }
            out.insert((lb, None), counts.own);
        }
        out
    }
}

/// `app/NAME/ID` of `arn:…:loadbalancer/app/NAME/ID`.
pub(crate) fn load_balancer_dimension(arn: &str) -> &str {
    arn.split_once(":loadbalancer/").map_or(arn, |(_, rest)| rest)
}

/// `targetgroup/NAME/ID` of `arn:…:targetgroup/NAME/ID`.
pub(crate) fn target_group_dimension(arn: &str) -> &str {
    arn.rsplit_once(':').map_or(arn, |(_, rest)| rest)
}

/// What a load balancer is, for its datapoints.
pub(crate) struct Publishing<'a> {
    pub lb_arn: &'a str,
    pub network: bool,
    /// Its target groups with (healthy, unhealthy) targets now.
    pub groups: BTreeMap<&'a str, (u64, u64)>,
}

/// One set of dimensions with its counts (and, for a target group, its health).
struct Series<'a> {
    dims: Vec<(String, String)>,
    tally: &'a Tally,
    health: Option<(u64, u64)>,
}

/// The datapoints of one load balancer for a window that ended at `now_ms`.
pub(crate) fn datapoints(lb: &Publishing<'_>, window: &HashMap<Key, Tally>, now_ms: i64) -> Vec<MetricDatum> {
    let namespace = if lb.network { "AWS/NetworkELB" } else { "AWS/ApplicationELB" };
    let lb_dim = ("LoadBalancer".to_string(), load_balancer_dimension(lb.lb_arn).to_string());
    let mut out = Vec::new();
    let mut point = |dimensions: &Vec<(String, String)>, name: &str, value: f64, unit: &str| {
        out.push(MetricDatum {
            namespace: namespace.into(),
            metric_name: name.into(),
            dimensions: dimensions.clone(),
            timestamp_ms: now_ms,
            value,
            unit: unit.into(),
        })
    };
    let empty = Tally::default();
    // The load balancer's own counts, then each target group's with its health.
    let mut sets: Vec<Series<'_>> = vec![Series {
        dims: vec![lb_dim.clone()],
        tally: window.get(&(lb.lb_arn.to_string(), None)).unwrap_or(&empty),
        health: None,
    }];
    for (group, health) in &lb.groups {
        sets.push(Series {
            dims: vec![lb_dim.clone(), ("TargetGroup".to_string(), target_group_dimension(group).to_string())],
            tally: window.get(&(lb.lb_arn.to_string(), Some(group.to_string()))).unwrap_or(&empty),
            health: Some(*health),
        });
    }
    for Series { dims, tally: t, health } in sets {
        if lb.network {
            point(&dims, "NewFlowCount", t.new_flows as f64, "Count");
        } else {
            point(&dims, "RequestCount", t.requests as f64, "Count");
            for (class, n) in ["2XX", "3XX", "4XX", "5XX"].iter().zip(t.target) {
                point(&dims, &format!("HTTPCode_Target_{class}_Count"), n as f64, "Count");
            }
            if health.is_none() {
                point(&dims, "HTTPCode_ELB_3XX_Count", t.elb_3xx as f64, "Count");
                point(&dims, "HTTPCode_ELB_4XX_Count", t.elb_4xx as f64, "Count");
                point(&dims, "HTTPCode_ELB_5XX_Count", t.elb_5xx as f64, "Count");
            }
            if t.responses > 0 {
                point(&dims, "TargetResponseTime", t.response_seconds / t.responses as f64, "Seconds");
            }
        }
        if let Some((healthy, unhealthy)) = health {
            point(&dims, "HealthyHostCount", healthy as f64, "Count");
            point(&dims, "UnHealthyHostCount", unhealthy as f64, "Count");
            if !lb.network {
                point(&dims, "RequestCountPerTarget", t.requests as f64 / healthy.max(1) as f64, "Count");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0123";
    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/blue/4567";

    fn value(points: &[MetricDatum], name: &str, with_group: bool) -> Option<f64> {
        points
            .iter()
            .find(|p| p.metric_name == name && p.dimensions.iter().any(|d| d.0 == "TargetGroup") == with_group)
            .map(|p| p.value)
    }

    #[test]
    fn requests_are_counted_by_who_answered_and_per_target_group() {
        let traffic = Traffic::default();
        traffic.request(LB, Some(TG), Answer::Target { status: 200, seconds: 0.010 });
        traffic.request(LB, Some(TG), Answer::Target { status: 503, seconds: 0.030 });
        traffic.request(LB, Some(TG), Answer::LoadBalancer { status: 502 });
        traffic.request(LB, None, Answer::LoadBalancer { status: 301 });
        let window = traffic.take();
        assert!(traffic.take().is_empty(), "a new window starts");
        let lb = Publishing { lb_arn: LB, network: false, groups: BTreeMap::from([(TG, (2, 1))]) };
        let points = datapoints(&lb, &window, 60_000);
        assert_eq!(value(&points, "RequestCount", false), Some(4.0));
        assert_eq!(value(&points, "RequestCount", true), Some(3.0));
        assert_eq!(value(&points, "HTTPCode_Target_2XX_Count", true), Some(1.0));
        assert_eq!(value(&points, "HTTPCode_Target_5XX_Count", false), Some(1.0));
        assert_eq!(value(&points, "HTTPCode_ELB_5XX_Count", false), Some(1.0));
        assert_eq!(value(&points, "HTTPCode_ELB_3XX_Count", false), Some(1.0));
        assert!((value(&points, "TargetResponseTime", true).unwrap() - 0.020).abs() < 1e-9);
        assert_eq!(value(&points, "HealthyHostCount", true), Some(2.0));
        assert_eq!(value(&points, "UnHealthyHostCount", true), Some(1.0));
        assert_eq!(value(&points, "RequestCountPerTarget", true), Some(1.5));
        let lb_dim = &points[0].dimensions[0];
        assert_eq!((lb_dim.0.as_str(), lb_dim.1.as_str()), ("LoadBalancer", "app/web/0123"));
        assert!(points.iter().all(|p| p.namespace == "AWS/ApplicationELB"));
        let tg_dim = points.iter().find_map(|p| p.dimensions.iter().find(|d| d.0 == "TargetGroup")).unwrap();
        assert_eq!(tg_dim.1, "targetgroup/blue/4567");
    }

    #[test]
    fn network_load_balancers_count_flows() {
        let traffic = Traffic::default();
        traffic.flow(LB, Some(TG));
        let lb = Publishing { lb_arn: LB, network: true, groups: BTreeMap::from([(TG, (1, 0))]) };
        let points = datapoints(&lb, &traffic.take(), 0);
        assert_eq!(value(&points, "NewFlowCount", true), Some(1.0));
        assert!(points.iter().all(|p| p.namespace == "AWS/NetworkELB" && p.metric_name != "RequestCount"));
    }
}
