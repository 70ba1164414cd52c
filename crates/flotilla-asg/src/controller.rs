//! The `autoscaling-groups` controller: each pass, for every group, it
//!
//! 1. observes its live instances' processes ([`Launcher::observe`]): one that died
//!    under this control plane becomes `Unhealthy` (a death within
//!    [`EARLY_DEATH`] of its launch also counts as a failed launch, so a crashing
//!    image backs off); one this control plane does not know yet is adopted when its
//!    process still runs, and launched again in place (same instance id, same state
//!    directory) when it does not, e.g. after the control plane itself restarted;
//! 2. decides with the pure [`decide`](crate::decide::decide) what to terminate and
//!    where to launch;
//! 3. terminates (each a "Terminating EC2 instance: i-…" activity, completed when the
//!    launcher stopped it), including instances TerminateInstanceInAutoScalingGroup
//!    or a force delete marked `Terminating`;
//! 4. launches (each a "Launching a new EC2 instance: i-…" activity; a launcher
//!    failure ends it `Failed` with the reason, removes the instance and backs the
//!    group's launches off, [`launch_backoff`]);
//! 5. deletes a force-deleted group once its last instance is gone.
//!
//! Every step is stored before the next (a Pending instance before its process is
//! started), so a pass cut short is finished by the next one, here or on the replica
//! that takes the lease over. Activities older than six weeks are forgotten.

use crate::activities;
use crate::decide::{GroupView, InstanceView, Why, decide, launch_backoff};
use crate::error::{AsgError, Result};
use crate::launcher::{Launcher, Observed};
use crate::model::{ActivityStatus, Group, Health, Instance, Lifecycle, cut, new_instance_id};
use crate::store::{AsgStore, Changes};
use crate::{InstanceRetirement, retrying, user_data};
use flotilla_core::time::Timestamp;
use flotilla_protocol::{Controller, PassError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How often groups are reconciled (and instances' processes checked).
pub const PASS_INTERVAL: Duration = Duration::from_secs(5);
/// An instance whose process dies this soon after its launch failed to launch.
pub const EARLY_DEATH: Duration = Duration::from_secs(30);
/// How long scaling activities are kept (AWS keeps six weeks).
pub const ACTIVITY_RETENTION: Duration = Duration::from_secs(42 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const PAGE: i64 = 100;

/// Keeps every group at its desired capacity.
pub struct GroupsController {
    store: AsgStore,
    launcher: Arc<Launcher>,
    wakeup: Arc<Notify>,
    retirement: Option<Arc<dyn InstanceRetirement>>,
    last_prune: Mutex<Option<Instant>>,
}

impl GroupsController {
    pub fn new(
        store: AsgStore,
        launcher: Arc<Launcher>,
        wakeup: Arc<Notify>,
        retirement: Option<Arc<dyn InstanceRetirement>>,
    ) -> Self {
        Self { store, launcher, wakeup, retirement, last_prune: Mutex::new(None) }
    }
}

#[async_trait::async_trait]
impl Controller for GroupsController {
    fn name(&self) -> &'static str {
        "autoscaling-groups"
    }

    fn interval(&self) -> Duration {
        PASS_INTERVAL
    }

    fn wakeup(&self) -> Option<Arc<Notify>> {
        Some(self.wakeup.clone())
    }

    async fn reconcile(&self) -> std::result::Result<(), PassError> {
        self.prune().await;
        let mut first_error = None;
        let mut after: Option<String> = None;
        loop {
            let groups = self.store.groups(after.as_deref(), PAGE).await?;
            for group in &groups {
                match self.reconcile_group(&group.name).await {
                    Ok(()) => {}
                    // Someone changed the group meanwhile: look again soon.
                    Err(e) if e.is_conflict() => self.wakeup.notify_one(),
                    Err(e) => {
                        tracing::warn!(group = %group.name, error = %e, "reconciling an auto scaling group failed");
                        first_error.get_or_insert(e);
                    }
                }
            }
            match groups.last() {
                Some(last) if groups.len() == PAGE as usize => after = Some(last.name.clone()),
                _ => break,
            }
        }
        match first_error {
            Some(e) => Err(Box::new(e)),
            None => Ok(()),
        }
    }
}

fn group_view(group: &Group) -> GroupView {
    GroupView {
        desired: group.desired_capacity,
        zones: group.placements().into_iter().map(|p| p.zone).collect(),
        launch_configuration: group.launch_configuration_name.clone(),
        termination_policies: group.termination_policies.clone(),
        launch_failures: group.launch_failures,
        retry_launch_at: group.retry_launch_at.map(|t| t.0),
        deleting: group.deleting,
    }
}

fn instance_view(i: &Instance) -> InstanceView {
    InstanceView {
        id: i.id.clone(),
        zone: i.availability_zone.clone(),
        lifecycle: i.lifecycle_state,
        health: i.health_status,
        protected: i.protected_from_scale_in,
        launch_configuration: i.launch_configuration_name.clone(),
        launched_at: i.launched_at.0,
    }
}

impl GroupsController {
    async fn prune(&self) {
        {
            let mut last = self.last_prune.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let before = Timestamp::now().0 - ACTIVITY_RETENTION.as_millis() as i64;
        match self.store.prune_activities(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(activities = n, "forgot scaling activities older than six weeks"),
            Err(e) => tracing::warn!(error = %e, "forgetting old scaling activities failed"),
        }
    }

    async fn reconcile_group(&self, name: &str) -> Result<()> {
        let Some(group) = self.store.group(name).await? else { return Ok(()) };
        for instance in self.store.instances_of(name).await? {
            if instance.is_live() {
                self.observe(&group, instance).await?;
            }
        }
        let Some(group) = self.store.group(name).await? else { return Ok(()) };
        let instances = self.store.instances_of(name).await?;
        let now = Timestamp::now();
        let views: Vec<InstanceView> = instances.iter().map(instance_view).collect();
        let decision = decide(&group_view(&group), &views, now.0);
        self.mark_terminating(&group, &instances, &decision.terminate, now).await?;
        for instance in self.store.instances_of(name).await? {
            if instance.lifecycle_state == Lifecycle::Terminating {
                self.finish_termination(instance).await?;
            }
        }
        let mut live = self.store.instances_of(name).await?.iter().filter(|i| i.is_live()).count();
        for zone in &decision.launch {
            if !self.launch(name, zone, live).await? {
                // The group backs off now: no more tries this pass.
                break;
            }
            live += 1;
        }
        if group.deleting && self.store.instances_of(name).await?.is_empty() {
            let Some(group) = self.store.group(name).await? else { return Ok(()) };
            self.store.commit(&mut Changes { group: Some(group), delete_group: true, ..Changes::default() }).await?;
            tracing::info!(group = name, "deleted a force-deleted group");
        }
        Ok(())
    }

    /// Looks at one live instance's process and records what changed.
    async fn observe(&self, group: &Group, instance: Instance) -> Result<()> {
        match self.launcher.observe(&instance) {
            Observed::Alive | Observed::Foreign => Ok(()),
            Observed::Dead(why) => {
                tracing::warn!(instance = %instance.id, group = %group.name, reason = %why, "an instance is unhealthy");
                let early = Timestamp::now().0 - instance.launched_at.0 < EARLY_DEATH.as_millis() as i64;
                self.update_instance(&instance.id, |i| {
                    i.health_status = Health::Unhealthy;
                    i.termination_cause = Some(why.clone());
                })
                .await?;
                if early {
                    self.launch_failed(&group.name).await?;
                }
                Ok(())
            }
            Observed::Stale(record) => {
                tracing::info!(instance = %instance.id, pid = record.pid, "an agent reaches another endpoint; launching it again");
                self.launcher.stop_stale(record).await;
                self.relaunch(group, instance).await
            }
            Observed::Gone => {
                tracing::info!(instance = %instance.id, group = %group.name, "launching an instance again in place: its process is not running");
                self.relaunch(group, instance).await
            }
        }
    }

    /// Launches a known instance again as itself (same id and state directory).
    async fn relaunch(&self, group: &Group, instance: Instance) -> Result<()> {
        match self.launcher.launch(&instance).await {
            Ok(record) => {
                let launch_activity =
                    if instance.lifecycle_state == Lifecycle::Pending { instance.activity_id.clone() } else { None };
                self.update_instance(&instance.id, |i| {
                    i.process = record.clone();
                    if i.lifecycle_state == Lifecycle::Pending {
                        i.lifecycle_state = Lifecycle::InService;
                        i.activity_id = None;
                    }
                })
                .await?;
                if let Some(id) = launch_activity {
                    self.finish_activity(&id, ActivityStatus::Successful, None).await?;
                }
                Ok(())
            }
            Err(why) => {
                tracing::warn!(instance = %instance.id, group = %group.name, reason = %why, "launching an instance again failed");
                self.update_instance(&instance.id, |i| {
                    i.health_status = Health::Unhealthy;
                    i.termination_cause = Some(why.clone());
                })
                .await?;
                Ok(())
            }
        }
    }

    /// Marks the decided instances `Terminating`, each with its activity, in one change.
    async fn mark_terminating(
        &self,
        group: &Group,
        instances: &[Instance],
        terminate: &[(String, Why)],
        now: Timestamp,
    ) -> Result<()> {
        if terminate.is_empty() {
            return Ok(());
        }
        let mut changes = Changes::default();
        let mut live = instances.iter().filter(|i| i.is_live() && i.health_status == Health::Healthy).count();
        for (id, why) in terminate {
            let Some(instance) = instances.iter().find(|i| &i.id == id) else { continue };
            let cause = match why {
                Why::Unhealthy => activities::unhealthy_cause(now),
                Why::ScaleIn => {
                    let cause =
                        activities::scale_in_cause(group.capacity_change.as_ref(), now, live, live.saturating_sub(1));
                    live = live.saturating_sub(1);
                    cause
                }
            };
            let activity = activities::begin(
                group,
                activities::terminate_description(id),
                cause,
                activities::details(&instance.availability_zone, instance.subnet_id.as_deref()),
                now,
            );
            let mut instance = instance.clone();
            instance.lifecycle_state = Lifecycle::Terminating;
            instance.activity_id = Some(activity.id.clone());
            changes.instances.push(instance);
            changes.activities.push(activity);
        }
        self.store.commit(&mut changes).await
    }

    /// Stops a `Terminating` instance and forgets it, completing its activity.
    async fn finish_termination(&self, instance: Instance) -> Result<()> {
        match self.launcher.terminate(&instance).await {
            Ok(note) => {
                if let Some(retirement) = &self.retirement {
                    let user_data = instance.user_data.as_deref().and_then(user_data::decode).unwrap_or_default();
                    let cluster = user_data::ecs_cluster(&user_data);
                    if let Err(e) = retirement.instance_terminated(&cluster, &instance.id).await {
                        tracing::warn!(instance = %instance.id, cluster, error = %e, "telling ECS of a terminated instance failed");
                    }
                }
                // Why it was unhealthy, when it was, says more than a bare success.
                let message = note.or_else(|| {
                    (instance.health_status == Health::Unhealthy).then(|| instance.termination_cause.clone()).flatten()
                });
                let id = instance.id.clone();
                let activity_id = instance.activity_id.clone();
                retrying(|| async {
                    let mut changes = Changes::default();
                    if let Some(current) = self.store.instance(&id).await? {
                        changes.removed.push(current);
                    }
                    if let Some(a) = &activity_id
                        && let Some(mut activity) = self.store.activity(a).await?
                    {
                        activity.finish(ActivityStatus::Successful, message.clone(), Timestamp::now());
                        changes.activities.push(activity);
                    }
                    self.store.commit(&mut changes).await
                })
                .await?;
                tracing::info!(instance = %id, group = %instance.group_name, "terminated an instance");
                Ok(())
            }
            Err(why) => {
                // Tried again next pass; the activity says what stands in the way.
                tracing::warn!(instance = %instance.id, reason = %why, "terminating an instance failed");
                if let Some(a) = &instance.activity_id
                    && let Some(mut activity) = self.store.activity(a).await?
                {
                    activity.status_message = Some(cut(&why, crate::model::MAX_STATUS_MESSAGE));
                    self.store.commit(&mut Changes { activities: vec![activity], ..Changes::default() }).await?;
                }
                Ok(())
            }
        }
    }

    /// Launches one instance of `name` in `zone`; `live` is how many the group has.
    /// Whether it launched.
    async fn launch(&self, name: &str, zone: &str, live: usize) -> Result<bool> {
        let Some(group) = self.store.group(name).await? else { return Ok(false) };
        let Some(lc) = self.store.launch_configuration(&group.launch_configuration_name).await? else {
            return Err(AsgError::validation(format!(
                "the launch configuration {} is gone",
                group.launch_configuration_name
            )));
        };
        let now = Timestamp::now();
        let id = new_instance_id();
        let subnet = group.placements().into_iter().find(|p| p.zone == zone).and_then(|p| p.subnet);
        let activity = activities::begin(
            &group,
            activities::launch_description(&id),
            activities::launch_cause(group.capacity_change.as_ref(), now, live, live + 1),
            activities::details(zone, subnet.as_deref()),
            now,
        );
        let instance = Instance {
            id: id.clone(),
            group_name: group.name.clone(),
            availability_zone: zone.to_string(),
            subnet_id: subnet,
            lifecycle_state: Lifecycle::Pending,
            health_status: Health::Healthy,
            protected_from_scale_in: group.new_instances_protected_from_scale_in,
            launch_configuration_name: lc.name.clone(),
            image_id: lc.image_id.clone(),
            instance_type: lc.instance_type.clone(),
            user_data: lc.user_data.clone(),
            launched_at: now,
            process: None,
            activity_id: Some(activity.id.clone()),
            termination_cause: None,
            version: 0,
        };
        // Stored with the group's version, so a group deleted meanwhile gets no instance.
        self.store
            .commit(&mut Changes {
                group: Some(group),
                instances: vec![instance.clone()],
                activities: vec![activity.clone()],
                ..Changes::default()
            })
            .await?;
        match self.launcher.launch(&instance).await {
            Ok(record) => {
                let kept = retrying(|| async {
                    let mut changes = Changes::default();
                    let mut kept = false;
                    if let Some(mut current) = self.store.instance(&id).await? {
                        current.process = record.clone();
                        if current.lifecycle_state == Lifecycle::Pending {
                            current.lifecycle_state = Lifecycle::InService;
                            current.activity_id = None;
                        }
                        changes.instances.push(current);
                        kept = true;
                    }
                    let mut a = activity.clone();
                    a.finish(ActivityStatus::Successful, None, Timestamp::now());
                    changes.activities.push(a);
                    if let Some(mut g) = self.store.group(name).await?
                        && g.launch_failures > 0
                    {
                        g.launch_failures = 0;
                        g.retry_launch_at = None;
                        changes.group = Some(g);
                    }
                    self.store.commit(&mut changes).await?;
                    Ok(kept)
                })
                .await?;
                if !kept {
                    // Forgotten while it started (its group went): it must not linger.
                    let _ = self.launcher.terminate(&instance).await;
                }
                Ok(kept)
            }
            Err(why) => {
                tracing::warn!(group = name, instance = %id, reason = %why, "launching an instance failed");
                retrying(|| async {
                    let mut changes = Changes::default();
                    if let Some(current) = self.store.instance(&id).await? {
                        changes.removed.push(current);
                    }
                    let mut a = activity.clone();
                    a.description = activities::failed_launch_description(&why);
                    a.finish(ActivityStatus::Failed, Some(why.clone()), Timestamp::now());
                    changes.activities.push(a);
                    if let Some(g) = self.store.group(name).await? {
                        changes.group = Some(backed_off(g));
                    }
                    self.store.commit(&mut changes).await
                })
                .await?;
                Ok(false)
            }
        }
    }

    /// Counts a failed launch against the group (its launches back off).
    async fn launch_failed(&self, name: &str) -> Result<()> {
        retrying(|| async {
            let Some(g) = self.store.group(name).await? else { return Ok(()) };
            self.store.commit(&mut Changes { group: Some(backed_off(g)), ..Changes::default() }).await
        })
        .await
    }

    /// Changes an instance (read again on a lost race); `None` when it is gone.
    async fn update_instance(&self, id: &str, change: impl Fn(&mut Instance)) -> Result<Option<Instance>> {
        retrying(|| async {
            let Some(mut instance) = self.store.instance(id).await? else { return Ok(None) };
            change(&mut instance);
            let mut changes = Changes { instances: vec![instance], ..Changes::default() };
            self.store.commit(&mut changes).await?;
            Ok(changes.instances.pop())
        })
        .await
    }

    async fn finish_activity(&self, id: &str, status: ActivityStatus, message: Option<String>) -> Result<()> {
        let Some(mut activity) = self.store.activity(id).await? else { return Ok(()) };
        if activity.status_code != ActivityStatus::InProgress {
            return Ok(());
        }
        activity.finish(status, message, Timestamp::now());
        self.store.commit(&mut Changes { activities: vec![activity], ..Changes::default() }).await
    }
}

/// The group after one more failed launch: the next waits [`launch_backoff`].
fn backed_off(mut g: Group) -> Group {
    g.launch_failures = g.launch_failures.saturating_add(1);
    g.retry_launch_at = Some(Timestamp(Timestamp::now().0 + launch_backoff(g.launch_failures).as_millis() as i64));
    g
}
