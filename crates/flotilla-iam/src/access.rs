//! Who owns an access key, and whether a call is allowed: the front door's
//! [`CredentialSource`] and [`Authorizer`] for every service.
//!
//! Access keys of users live in the IAM store, STS sessions in its session table, and
//! the root credentials are given at start. Decisions read a [`Snapshot`] of the IAM
//! entities with every principal's policies compiled once; a snapshot is trusted for
//! [`RECHECK`] (IAM itself is eventually consistent: AWS documents that changes take
//! seconds to apply) and then kept only if the store's revision has not moved. A
//! change made through this process is seen at once: the API drops the snapshot.

use crate::error::Result;
use crate::managed;
use crate::model::{EntityKind, Role, Session, State};
use crate::store::IamStore;
use async_trait::async_trait;
use flotilla_core::{AccountContext, Timestamp};
use flotilla_iam_policy::{ContextKeys, Decision as PolicyDecision, PolicyDocument, PolicyKind, RequestContext};
use flotilla_protocol::{
    AuthorizationRequest, Authorizer, Controller, CredentialLookupError, CredentialSource, Decision, PassError,
    Principal,
};
use flotilla_sigv4::Credentials;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a snapshot is used before the store's revision is checked again.
pub const RECHECK: Duration = Duration::from_secs(1);
/// How long an expired session is kept, so its token is answered `ExpiredToken`
/// rather than unknown.
const EXPIRED_SESSION_KEPT_MS: i64 = 3_600_000;
/// Sessions kept in memory at most (they are read again from the store when dropped).
const SESSION_CACHE: usize = 10_000;

/// The account's root credentials: they may do everything.
#[derive(Debug, Clone)]
pub struct RootCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// One principal's identity-based policies, compiled; `Err` when one of them cannot
/// be read (the principal is then refused everything).
pub type CompiledPolicies = std::result::Result<Arc<Vec<(String, PolicyDocument)>>, String>;

/// The IAM entities at one revision, with every user's and role's policies compiled.
pub struct Snapshot {
    pub revision: i64,
    pub state: State,
    /// Users by ARN.
    users_by_arn: HashMap<String, String>,
    /// Compiled identity policies by principal ARN (users, roles) and group ARN.
    policies: HashMap<String, CompiledPolicies>,
    /// Roles' trust policies, compiled, by role name.
    trust: HashMap<String, std::result::Result<PolicyDocument, String>>,
    /// Principals (users, roles) one of whose policies names `aws:ResourceTag/…`: only
    /// their requests read their resources' tags.
    reads_resource_tags: std::collections::HashSet<String>,
}

fn names_resource_tags(text: &str) -> bool {
    text.to_ascii_lowercase().contains("aws:resourcetag/")
}

fn compile(id: String, text: &str) -> std::result::Result<(String, PolicyDocument), String> {
    PolicyDocument::parse(text, PolicyKind::Identity).map(|d| (id, d)).map_err(|e| e.to_string())
}

impl Snapshot {
    fn build(revision: i64, state: State) -> Self {
        let managed_document = |arn: &str| -> std::result::Result<String, String> {
            if let Some(p) = state.policies.get(arn) {
                return p.default_document().map(str::to_string).ok_or_else(|| format!("{arn} has no default version"));
            }
            managed::get(arn)
                .and_then(|p| p.default_document().map(str::to_string))
                .ok_or_else(|| format!("{arn} does not exist"))
        };
        let entity = |inline: &std::collections::BTreeMap<String, String>,
                      attached: &[String]|
         -> std::result::Result<Vec<(String, PolicyDocument)>, String> {
            let mut out = Vec::new();
            for (name, text) in inline {
                out.push(compile(name.clone(), text)?);
            }
            for arn in attached {
                out.push(compile(arn.clone(), &managed_document(arn)?)?);
            }
            Ok(out)
        };
        let mut policies = HashMap::new();
        let mut groups = HashMap::new();
        for g in state.groups.values() {
            let compiled = entity(&g.inline, &g.attached);
            groups.insert(g.name.clone(), compiled.clone());
            policies.insert(g.arn.clone(), compiled.map(Arc::new));
        }
        let mut users_by_arn = HashMap::new();
        for u in state.users.values() {
            users_by_arn.insert(u.arn.clone(), u.name.clone());
            let mut all = entity(&u.inline, &u.attached);
            for g in &u.groups {
                match (&mut all, groups.get(g)) {
                    (Ok(all), Some(Ok(of_group))) => all.extend(of_group.iter().cloned()),
                    (Ok(_), Some(Err(e))) => all = Err(e.clone()),
                    _ => {}
                }
            }
            policies.insert(u.arn.clone(), all.map(Arc::new));
        }
        let mut reads_resource_tags = std::collections::HashSet::new();
        let texts_name_tags = |inline: &std::collections::BTreeMap<String, String>, attached: &[String]| {
            inline.values().any(|t| names_resource_tags(t))
                || attached.iter().any(|arn| managed_document(arn).is_ok_and(|t| names_resource_tags(&t)))
        };
        for u in state.users.values() {
            let in_groups =
                u.groups.iter().filter_map(|g| state.groups.get(g)).any(|g| texts_name_tags(&g.inline, &g.attached));
            if in_groups || texts_name_tags(&u.inline, &u.attached) {
                reads_resource_tags.insert(u.arn.clone());
            }
        }
        let mut trust = HashMap::new();
        for r in state.roles.values() {
            if texts_name_tags(&r.inline, &r.attached) {
                reads_resource_tags.insert(r.arn.clone());
            }
            policies.insert(r.arn.clone(), entity(&r.inline, &r.attached).map(Arc::new));
            trust.insert(
                r.name.clone(),
                PolicyDocument::parse(&r.trust_policy, PolicyKind::Resource).map_err(|e| e.to_string()),
            );
        }
        Self { revision, state, users_by_arn, policies, trust, reads_resource_tags }
    }

    /// The compiled identity policies of a user, group or role ARN.
    pub fn policies_of(&self, arn: &str) -> Option<&CompiledPolicies> {
        self.policies.get(arn)
    }

    /// The user an ARN names.
    pub fn user_name(&self, arn: &str) -> Option<&str> {
        self.users_by_arn.get(arn).map(String::as_str)
    }

    pub fn trust_policy(&self, role: &str) -> Option<&std::result::Result<PolicyDocument, String>> {
        self.trust.get(role)
    }
}

struct Cached {
    snapshot: Arc<Snapshot>,
    checked: Instant,
}

/// IAM's state as the front door and the API use it.
pub struct Access {
    store: IamStore,
    account: AccountContext,
    root: Principal,
    cached: tokio::sync::Mutex<Option<Cached>>,
    sessions: Mutex<HashMap<String, Session>>,
}

/// The principal a call is made as, as the authorizer sees it.
enum Who<'a> {
    User(&'a str),
    Session(Box<Session>),
}

impl Access {
    pub fn new(store: IamStore, account: AccountContext, root: RootCredentials) -> Self {
        let root = Principal::new(
            Credentials::new(root.access_key_id, root.secret_access_key),
            Some(account.root_principal_arn()),
        );
        Self { store, account, root, cached: tokio::sync::Mutex::new(None), sessions: Mutex::new(HashMap::new()) }
    }

    pub fn store(&self) -> &IamStore {
        &self.store
    }

    pub fn account(&self) -> &AccountContext {
        &self.account
    }

    pub fn root_arn(&self) -> &str {
        self.root.arn.as_deref().unwrap_or_default()
    }

    /// The entities with compiled policies, read again when older than [`RECHECK`] and
    /// the store's revision moved.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_mut() {
            if c.checked.elapsed() < RECHECK {
                return Ok(c.snapshot.clone());
            }
            if self.store.revision().await? == c.snapshot.revision {
                c.checked = Instant::now();
                return Ok(c.snapshot.clone());
            }
        }
        let (revision, state) = self.store.load().await?;
        let snapshot = Arc::new(Snapshot::build(revision, state));
        *cached = Some(Cached { snapshot: snapshot.clone(), checked: Instant::now() });
        Ok(snapshot)
    }

    /// Runs `change` on the stored entities (see [`IamStore::update`]); the next
    /// decision reads them again.
    pub async fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let answer = self.store.update(change).await;
        *self.cached.lock().await = None;
        answer
    }

    /// The session of `access_key_id`, expired or not.
    pub async fn session(&self, access_key_id: &str) -> Result<Option<Session>> {
        if let Some(s) = self.sessions.lock().expect("sessions lock").get(access_key_id) {
            return Ok(Some(s.clone()));
        }
        let found = self.store.session(access_key_id).await?;
        if let Some(s) = &found {
            let mut sessions = self.sessions.lock().expect("sessions lock");
            if sessions.len() >= SESSION_CACHE {
                sessions.clear();
            }
            sessions.insert(access_key_id.to_string(), s.clone());
        }
        Ok(found)
    }

    /// Stores a new session.
    pub async fn put_session(&self, session: &Session) -> Result<()> {
        self.store.put_session(session).await
    }

    /// The condition keys every request sets.
    fn global_keys(&self, request: &AuthorizationRequest<'_>, who: &Who<'_>, snapshot: &Snapshot) -> ContextKeys {
        let mut keys = ContextKeys::new();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        keys.insert("aws:CurrentTime", Timestamp(now.as_millis() as i64).to_iso8601());
        keys.insert("aws:EpochTime", now.as_secs().to_string());
        keys.insert("aws:PrincipalAccount", self.account.account_id.clone());
        keys.insert("aws:SecureTransport", "false");
        keys.insert("aws:RequestedRegion", self.account.region.clone());
        if let Some(ip) = request.source_ip {
            keys.insert("aws:SourceIp", ip.to_string());
        }
        match who {
            Who::User(name) => {
                keys.insert("aws:PrincipalType", "User");
                keys.insert("aws:username", name.to_string());
                if let Some(u) = snapshot.state.users.get(*name) {
                    keys.insert("aws:PrincipalArn", u.arn.clone());
                    keys.insert("aws:userid", u.id.clone());
                    for t in &u.tags {
                        keys.insert(&format!("aws:PrincipalTag/{}", t.key), t.value.clone());
                    }
                }
            }
            Who::Session(s) => {
                keys.insert("aws:PrincipalType", "AssumedRole");
                keys.insert("aws:PrincipalArn", s.role_arn.clone());
                keys.insert("aws:userid", format!("{}:{}", s.role_id, s.session_name));
                if let Some(r) = snapshot.state.roles.get(&s.role_name) {
                    for t in &r.tags {
                        keys.insert(&format!("aws:PrincipalTag/{}", t.key), t.value.clone());
                    }
                }
            }
        }
        for (key, value) in request.conditions {
            keys.insert(key, value.clone());
        }
        keys
    }

    async fn decide(&self, request: &AuthorizationRequest<'_>) -> Result<Decision> {
        let deny_first = || Decision::Deny { resource: request.resources.first().cloned().unwrap_or_default() };
        let Some(principal_arn) = request.caller.principal_arn.as_deref() else { return Ok(deny_first()) };
        if principal_arn == self.root_arn() {
            return Ok(Decision::Allow);
        }
        // AWS: nobody can be denied GetCallerIdentity.
        if request.action == "sts:GetCallerIdentity" {
            return Ok(Decision::Allow);
        }
        let snapshot = self.snapshot().await?;
        let (who, identity_arn) = if let Some(name) = snapshot.user_name(principal_arn) {
            (Who::User(name), principal_arn.to_string())
        } else {
            match self.session(&request.caller.access_key_id).await? {
                // An expired session may do nothing (registry tokens outlive sessions).
                Some(s) if s.arn(&self.account.account_id) == principal_arn && s.expires > Timestamp::now() => {
                    let role_arn = s.role_arn.clone();
                    (Who::Session(Box::new(s)), role_arn)
                }
                _ => return Ok(deny_first()),
            }
        };
        let Some(Ok(policies)) = snapshot.policies_of(&identity_arn) else {
            if let Some(Err(e)) = snapshot.policies_of(&identity_arn) {
                tracing::error!(principal = %identity_arn, error = %e, "a policy of the principal cannot be read; refusing");
            }
            return Ok(deny_first());
        };
        let session_policy = match &who {
            Who::Session(s) => match s.policy.as_deref().map(|p| PolicyDocument::parse(p, PolicyKind::Identity)) {
                Some(Ok(p)) => Some(p),
                Some(Err(_)) => return Ok(deny_first()),
                None => None,
            },
            Who::User(_) => None,
        };
        let keys = self.global_keys(request, &who, &snapshot);
        let session_names_tags = match &who {
            Who::Session(s) => s.policy.as_deref().is_some_and(names_resource_tags),
            Who::User(_) => false,
        };
        let read_tags = request
            .resource_tags
            .filter(|_| session_names_tags || snapshot.reads_resource_tags.contains(&identity_arn));
        for resource in request.resources {
            let mut with_tags;
            let keys = match read_tags {
                Some(source) if resource != "*" => {
                    with_tags = keys.clone();
                    for (key, value) in source.resource_tags(resource).await.unwrap_or_default() {
                        with_tags.insert(&format!("aws:ResourceTag/{key}"), value);
                    }
                    &with_tags
                }
                _ => &keys,
            };
            let ctx = RequestContext { action: request.action, resource, principal: None, keys };
            let allowed = flotilla_iam_policy::evaluate(policies.iter().map(|(_, p)| p), &ctx) == PolicyDecision::Allow
                && session_policy.as_ref().is_none_or(|p| flotilla_iam_policy::evaluate([p], &ctx).is_allowed());
            if !allowed {
                return Ok(Decision::Deny { resource: resource.clone() });
            }
        }
        Ok(Decision::Allow)
    }

    /// The principal (and secret) of an access key.
    async fn find(&self, access_key_id: &str) -> Result<Option<Principal>> {
        if access_key_id == self.root.credentials.access_key_id {
            return Ok(Some(self.root.clone()));
        }
        if access_key_id.starts_with("ASIA") {
            return Ok(self.session(access_key_id).await?.map(|s| Principal {
                credentials: Credentials::new(s.access_key_id.clone(), s.secret.clone())
                    .with_session_token(s.token.clone()),
                arn: Some(s.arn(&self.account.account_id)),
                expires: Some(UNIX_EPOCH + Duration::from_millis(s.expires.0.max(0) as u64)),
            }));
        }
        let snapshot = self.snapshot().await?;
        let Some(key) = snapshot.state.access_keys.get(access_key_id).filter(|k| k.active) else { return Ok(None) };
        let arn = snapshot.state.users.get(&key.user).map(|u| u.arn.clone());
        Ok(arn.map(|arn| Principal::new(Credentials::new(key.id.clone(), key.secret.clone()), Some(arn))))
    }

    /// Temporary credentials for the role `role_arn`, issued to the AWS service
    /// principal `service` (e.g. `ecs-tasks.amazonaws.com`) when the role's trust
    /// policy trusts it; `AccessDenied` otherwise.
    pub async fn session_for_service(
        &self,
        role_arn: &str,
        service: &str,
        session_name: &str,
        duration_secs: i64,
    ) -> Result<Session> {
        let snapshot = self.snapshot().await?;
        let role = match self.entity_of_arn(role_arn) {
            Some((EntityKind::Role, name)) => snapshot.state.roles.get(name).filter(|r| r.arn == role_arn),
            _ => None,
        };
        let refused = |why: &str| {
            crate::error::IamError::AccessDenied(format!(
                "{service} is not authorized to perform: sts:AssumeRole on resource: {role_arn}: {why}"
            ))
        };
        let role = role.ok_or_else(|| refused("the role does not exist"))?;
        if !self.trusts_principal(&snapshot, role, service, Some(service)) {
            return Err(refused("the role's trust policy does not trust the service"));
        }
        let session = Session {
            access_key_id: crate::model::new_access_key_id("ASIA"),
            secret: crate::model::new_secret(),
            token: crate::model::new_session_token(),
            role_name: role.name.clone(),
            role_arn: role.arn.clone(),
            role_id: role.id.clone(),
            session_name: session_name.to_string(),
            expires: Timestamp(Timestamp::now().0 + duration_secs * 1000),
            policy: None,
            source: service.to_string(),
        };
        self.put_session(&session).await?;
        Ok(session)
    }

    /// Whether `role`'s trust policy lets `principal_arn` assume it.
    pub fn trusts(&self, snapshot: &Snapshot, role: &Role, principal_arn: &str) -> bool {
        self.trusts_principal(snapshot, role, principal_arn, None)
    }

    fn trusts_principal(&self, snapshot: &Snapshot, role: &Role, principal_arn: &str, service: Option<&str>) -> bool {
        let Some(Ok(trust)) = snapshot.trust_policy(&role.name) else { return false };
        let principal =
            flotilla_iam_policy::PrincipalRef { arn: principal_arn, account_id: &self.account.account_id, service };
        let mut keys = ContextKeys::new();
        keys.insert("aws:PrincipalArn", principal_arn.to_string());
        let ctx =
            RequestContext { action: "sts:AssumeRole", resource: &role.arn, principal: Some(&principal), keys: &keys };
        flotilla_iam_policy::evaluate([trust], &ctx).is_allowed()
    }

    /// Which kind of entity an ARN of this account names, and its name.
    pub fn entity_of_arn<'a>(&self, arn: &'a str) -> Option<(EntityKind, &'a str)> {
        let rest = arn.strip_prefix(&format!("arn:aws:iam::{}:", self.account.account_id))?;
        let (kind, path_and_name) = rest.split_once('/')?;
        let name = path_and_name.rsplit('/').next()?;
        let kind = match kind {
            "user" => EntityKind::User,
            "group" => EntityKind::Group,
            "role" => EntityKind::Role,
            _ => return None,
        };
        Some((kind, name))
    }
}

#[async_trait]
impl CredentialSource for Access {
    async fn lookup(&self, access_key_id: &str) -> std::result::Result<Option<Principal>, CredentialLookupError> {
        self.find(access_key_id)
            .await
            .map_err(|e| CredentialLookupError { access_key_id: access_key_id.to_string(), reason: e.to_string() })
    }
}

#[async_trait]
impl Authorizer for Access {
    fn unrestricted(&self, caller: &flotilla_protocol::Caller) -> bool {
        caller.principal_arn.as_deref() == Some(self.root_arn())
    }

    async fn authorize(&self, request: &AuthorizationRequest<'_>) -> Decision {
        match self.decide(request).await {
            Ok(decision) => decision,
            Err(e) => {
                tracing::error!(error = %e, "authorization failed; refusing");
                Decision::Deny { resource: request.resources.first().cloned().unwrap_or_default() }
            }
        }
    }
}

/// Forgets sessions an hour after they expired (`iam-sessions`).
pub struct SessionReaper {
    access: Arc<Access>,
}

impl SessionReaper {
    pub fn new(access: Arc<Access>) -> Self {
        Self { access }
    }
}

#[async_trait]
impl Controller for SessionReaper {
    fn name(&self) -> &'static str {
        "iam-sessions"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(60)
    }

    async fn reconcile(&self) -> std::result::Result<(), PassError> {
        let now = Timestamp::now().0;
        let gone = self.access.store.delete_expired_sessions(now - EXPIRED_SESSION_KEPT_MS).await?;
        if gone > 0 {
            tracing::info!(sessions = gone, "forgot expired STS sessions");
            self.access
                .sessions
                .lock()
                .expect("sessions lock")
                .retain(|_, s| s.expires.0 >= now - EXPIRED_SESSION_KEPT_MS);
        }
        Ok(())
    }
}
