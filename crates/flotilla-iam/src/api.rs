//! IAM's operations: read the query request, change or read the state, write the answer.

use crate::access::Access;
use crate::error::{IamError, Result};
use crate::managed;
use crate::model::{
    self, AccessKey, EntityKind, Group, MAX_ACCESS_KEYS, MAX_ATTACHED_POLICIES, MAX_GROUPS_PER_USER,
    MAX_POLICY_VERSIONS, ManagedPolicy, PolicyVersion, Role, State, User, check_name, check_path,
};
use crate::xml;
use crate::{Answer, answer, empty};
use flotilla_core::Timestamp;
use flotilla_core::paging::{decode_token, encode_token};
use flotilla_core::tag::{Tag, validate_tags};
use flotilla_iam_policy::{
    ContextKeys, Decision, PolicyDocument, PolicyKind, RequestContext, evaluate_explained, limits, policy_size,
};
use flotilla_protocol::{QueryRequest, XmlWriter};
use std::collections::BTreeMap;

pub(crate) async fn call(access: &Access, operation: &str, q: &QueryRequest) -> Result<Answer> {
    use EntityKind::{Group as G, Role as R, User as U};
    match operation {
        "CreateUser" => create_user(access, q).await,
        "GetUser" => get_user(access, q).await,
        "ListUsers" => list_users(access, q).await,
        "UpdateUser" => update_user(access, q).await,
        "DeleteUser" => delete_user(access, q).await,
        "TagUser" => tag(access, q, U, true).await,
        "UntagUser" => tag(access, q, U, false).await,
        "ListUserTags" => list_tags(access, q, U).await,
        "CreateAccessKey" => create_access_key(access, q).await,
        "ListAccessKeys" => list_access_keys(access, q).await,
        "UpdateAccessKey" => update_access_key(access, q).await,
        "DeleteAccessKey" => delete_access_key(access, q).await,
        "GetAccessKeyLastUsed" => access_key_last_used(access, q).await,
        "CreateGroup" => create_group(access, q).await,
        "GetGroup" => get_group(access, q).await,
        "ListGroups" => list_groups(access, q).await,
        "DeleteGroup" => delete_group(access, q).await,
        "AddUserToGroup" => membership(access, q, true).await,
        "RemoveUserFromGroup" => membership(access, q, false).await,
        "ListGroupsForUser" => groups_for_user(access, q).await,
        "CreateRole" => create_role(access, q).await,
        "GetRole" => get_role(access, q).await,
        "ListRoles" => list_roles(access, q).await,
        "UpdateRole" => update_role(access, q).await,
        "DeleteRole" => delete_role(access, q).await,
        "UpdateAssumeRolePolicy" => update_trust(access, q).await,
        "TagRole" => tag(access, q, R, true).await,
        "UntagRole" => tag(access, q, R, false).await,
        "ListRoleTags" => list_tags(access, q, R).await,
        "CreatePolicy" => create_policy(access, q).await,
        "GetPolicy" => get_policy(access, q).await,
        "ListPolicies" => list_policies(access, q).await,
        "DeletePolicy" => delete_policy(access, q).await,
        "CreatePolicyVersion" => create_policy_version(access, q).await,
        "GetPolicyVersion" => get_policy_version(access, q).await,
        "ListPolicyVersions" => list_policy_versions(access, q).await,
        "SetDefaultPolicyVersion" => set_default_version(access, q).await,
        "DeletePolicyVersion" => delete_policy_version(access, q).await,
        "TagPolicy" => tag_policy(access, q, true).await,
        "UntagPolicy" => tag_policy(access, q, false).await,
        "ListPolicyTags" => list_policy_tags(access, q).await,
        "AttachUserPolicy" => attach(access, q, U, true).await,
        "DetachUserPolicy" => attach(access, q, U, false).await,
        "ListAttachedUserPolicies" => list_attached(access, q, U).await,
        "AttachGroupPolicy" => attach(access, q, G, true).await,
        "DetachGroupPolicy" => attach(access, q, G, false).await,
        "ListAttachedGroupPolicies" => list_attached(access, q, G).await,
        "AttachRolePolicy" => attach(access, q, R, true).await,
        "DetachRolePolicy" => attach(access, q, R, false).await,
        "ListAttachedRolePolicies" => list_attached(access, q, R).await,
        "PutUserPolicy" => put_inline(access, q, U).await,
        "GetUserPolicy" => get_inline(access, q, U).await,
        "DeleteUserPolicy" => delete_inline(access, q, U).await,
        "ListUserPolicies" => list_inline(access, q, U).await,
        "PutGroupPolicy" => put_inline(access, q, G).await,
        "GetGroupPolicy" => get_inline(access, q, G).await,
        "DeleteGroupPolicy" => delete_inline(access, q, G).await,
        "ListGroupPolicies" => list_inline(access, q, G).await,
        "PutRolePolicy" => put_inline(access, q, R).await,
        "GetRolePolicy" => get_inline(access, q, R).await,
        "DeleteRolePolicy" => delete_inline(access, q, R).await,
        "ListRolePolicies" => list_inline(access, q, R).await,
        "GetAccountAuthorizationDetails" => authorization_details(access, q).await,
        "SimulatePrincipalPolicy" => simulate(access, q).await,
        other => Err(IamError::InvalidInput(format!("Could not find operation {other} for version 2010-05-08"))),
    }
}

// Reading requests. -------------------------------------------------------------------

fn required<'a>(q: &'a QueryRequest, name: &str) -> Result<&'a str> {
    q.get(name).ok_or_else(|| {
        IamError::validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn entity_name_param(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "UserName",
        EntityKind::Group => "GroupName",
        EntityKind::Role => "RoleName",
    }
}

fn path_param(q: &QueryRequest) -> Result<String> {
    let path = q.get("Path").unwrap_or("/").to_string();
    check_path(&path)?;
    Ok(path)
}

/// `Tags.member.N.Key` / `.Value`.
fn tags_param(q: &QueryRequest) -> Result<Vec<Tag>> {
    let mut tags = Vec::new();
    for i in 1.. {
        let Some(key) = q.get(&format!("Tags.member.{i}.Key")) else { break };
        let value = q.get(&format!("Tags.member.{i}.Value")).unwrap_or_default();
        tags.push(Tag { key: key.to_string(), value: value.to_string() });
    }
    validate_tags(&tags).map_err(|e| IamError::InvalidInput(e.to_string()))?;
    Ok(tags)
}

/// `MaxItems` (1 to 1000, default 100) and the name after which the page starts.
fn page_params(q: &QueryRequest) -> Result<(usize, Option<String>)> {
    let max = match q.get("MaxItems") {
        None => 100,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| IamError::validation(format!("MaxItems must be between 1 and 1000, not '{s}'")))?,
    };
    let after = q
        .get("Marker")
        .map(|m| decode_token(m).map_err(|_| IamError::validation("Invalid Marker: not one this API returned")))
        .transpose()?;
    Ok((max, after))
}

/// The page of `items` (in key order) after `after`, and the marker of the next one.
fn page<T>(items: Vec<T>, q: &QueryRequest, key: impl Fn(&T) -> String) -> Result<(Vec<T>, Option<String>)> {
    let (max, after) = page_params(q)?;
    let mut rest: Vec<T> = items.into_iter().filter(|i| after.as_ref().is_none_or(|a| key(i) > *a)).collect();
    if rest.len() <= max {
        return Ok((rest, None));
    }
    rest.truncate(max);
    let marker = rest.last().map(|i| encode_token(&key(i)));
    Ok((rest, marker))
}

/// A policy document given to IAM: parsed (MalformedPolicyDocument with the position
/// of the fault) and within `limit` characters.
fn checked_document(text: &str, kind: PolicyKind, limit: usize, what: &str) -> Result<()> {
    let size = policy_size(text);
    if size > limit {
        return Err(IamError::LimitExceeded(format!("Cannot exceed quota for {what}: {limit}.")));
    }
    PolicyDocument::parse(text, kind).map_err(|e| IamError::MalformedPolicy(e.to_string()))?;
    Ok(())
}

fn no_entity(kind: EntityKind, name: &str) -> IamError {
    IamError::no_such(format!("The {} with name {name} cannot be found.", kind.title()))
}

fn arn_of(access: &Access, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{}:{kind}{path}{name}", access.account().account_id)
}

// Users. ------------------------------------------------------------------------------

async fn create_user(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "UserName")?.to_string();
    check_name("userName", &name, 64)?;
    let path = path_param(q)?;
    let tags = tags_param(q)?;
    let user = User {
        arn: arn_of(access, "user", &path, &name),
        id: model::new_id("AIDA"),
        name: name.clone(),
        path,
        created: Timestamp::now(),
        tags,
        inline: BTreeMap::new(),
        attached: Vec::new(),
        groups: Vec::new(),
    };
    let stored = user.clone();
    access
        .update(move |s| {
            if s.users.keys().any(|n| n.eq_ignore_ascii_case(&name)) {
                return Err(IamError::AlreadyExists(format!("User with name {name} already exists.")));
            }
            s.users.insert(name, stored);
            Ok(())
        })
        .await?;
    Ok(answer(move |w| {
        w.open("User");
        xml::user(w, &user, true);
        w.close();
    }))
}

fn find_user<'a>(state: &'a State, name: &str) -> Result<&'a User> {
    state.users.get(name).ok_or_else(|| no_entity(EntityKind::User, name))
}

async fn get_user(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let snapshot = access.snapshot().await?;
    let user = match q.get("UserName") {
        Some(name) => find_user(&snapshot.state, name)?.clone(),
        // Without a name, GetUser describes the caller; the root user is not an IAM user.
        None => {
            let account = &access.account().account_id;
            let created = Timestamp(0);
            User {
                name: account.clone(),
                id: account.clone(),
                arn: access.root_arn().to_string(),
                path: "/".into(),
                created,
                tags: Vec::new(),
                inline: BTreeMap::new(),
                attached: Vec::new(),
                groups: Vec::new(),
            }
        }
    };
    Ok(answer(move |w| {
        w.open("User");
        xml::user(w, &user, true);
        w.close();
    }))
}

async fn list_users(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let prefix = q.get("PathPrefix").unwrap_or("/").to_string();
    let snapshot = access.snapshot().await?;
    let users: Vec<User> = snapshot.state.users.values().filter(|u| u.path.starts_with(&prefix)).cloned().collect();
    let (users, marker) = page(users, q, |u| u.name.clone())?;
    Ok(answer(move |w| {
        xml::members(w, "Users", &users, |w, u| xml::user(w, u, false));
        xml::paging(w, &marker);
    }))
}

async fn update_user(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "UserName")?.to_string();
    let new_name = q.get("NewUserName").map(str::to_string);
    let new_path = q.get("NewPath").map(str::to_string);
    if let Some(n) = &new_name {
        check_name("newUserName", n, 64)?;
    }
    if let Some(p) = &new_path {
        check_path(p)?;
    }
    let account = access.account().account_id.clone();
    access
        .update(move |s| {
            let mut user = s.users.remove(&name).ok_or_else(|| no_entity(EntityKind::User, &name))?;
            if let Some(n) = &new_name
                && *n != name
                && s.users.contains_key(n)
            {
                return Err(IamError::AlreadyExists(format!("User with name {n} already exists.")));
            }
            user.name = new_name.unwrap_or(user.name);
            user.path = new_path.unwrap_or(user.path);
            user.arn = format!("arn:aws:iam::{account}:user{}{}", user.path, user.name);
            for k in s.access_keys.values_mut().filter(|k| k.user == name) {
                k.user = user.name.clone();
            }
            s.users.insert(user.name.clone(), user);
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn delete_user(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "UserName")?.to_string();
    access
        .update(move |s| {
            let user = find_user(s, &name)?;
            let has_keys = s.access_keys.values().any(|k| k.user == name);
            if has_keys || !user.inline.is_empty() || !user.attached.is_empty() || !user.groups.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete access keys, policies and group memberships first.".into(),
                ));
            }
            s.users.remove(&name);
            Ok(())
        })
        .await?;
    Ok(empty())
}

/// The tags of a user or role.
fn tags_of<'a>(state: &'a mut State, kind: EntityKind, name: &str) -> Result<&'a mut Vec<Tag>> {
    match kind {
        EntityKind::User => state.users.get_mut(name).map(|u| &mut u.tags),
        EntityKind::Role => state.roles.get_mut(name).map(|r| &mut r.tags),
        EntityKind::Group => None,
    }
    .ok_or_else(|| no_entity(kind, name))
}

fn apply_tags(tags: &mut Vec<Tag>, q: &QueryRequest, add: bool) -> Result<()> {
    if add {
        for t in tags_param(q)? {
            match tags.iter_mut().find(|o| o.key == t.key) {
                Some(o) => o.value = t.value,
                None => tags.push(t),
            }
        }
        validate_tags(tags)
            .map_err(|_| IamError::LimitExceeded("The number of tags has reached the maximum limit.".into()))?;
    } else {
        let keys = q.list("TagKeys");
        tags.retain(|t| !keys.contains(&t.key.as_str()));
    }
    Ok(())
}

async fn tag(access: &Access, q: &QueryRequest, kind: EntityKind, add: bool) -> Result<Answer> {
    let name = required(q, entity_name_param(kind))?.to_string();
    let q = q.clone();
    access.update(move |s| apply_tags(tags_of(s, kind, &name)?, &q, add)).await?;
    Ok(empty())
}

async fn list_tags(access: &Access, q: &QueryRequest, kind: EntityKind) -> Result<Answer> {
    let name = required(q, entity_name_param(kind))?;
    let mut state = access.snapshot().await?.state.clone();
    let tags = tags_of(&mut state, kind, name)?.clone();
    Ok(answer(move |w| {
        xml::tags(w, &tags);
        w.element("IsTruncated", "false");
    }))
}

// Access keys. ------------------------------------------------------------------------

async fn create_access_key(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let Some(name) = q.get("UserName").map(str::to_string) else {
        return Err(IamError::validation("Flotilla does not make access keys for the root user; name a UserName"));
    };
    let key = AccessKey {
        id: model::new_access_key_id("AKIA"),
        user: name.clone(),
        secret: model::new_secret(),
        active: true,
        created: Timestamp::now(),
    };
    let stored = key.clone();
    access
        .update(move |s| {
            find_user(s, &name)?;
            if s.access_keys.values().filter(|k| k.user == name).count() >= MAX_ACCESS_KEYS {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}"
                )));
            }
            s.access_keys.insert(stored.id.clone(), stored);
            Ok(())
        })
        .await?;
    Ok(answer(move |w| {
        w.open("AccessKey");
        xml::access_key_metadata(w, &key);
        w.element("SecretAccessKey", &key.secret);
        w.close();
    }))
}

async fn list_access_keys(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "UserName")?;
    let snapshot = access.snapshot().await?;
    find_user(&snapshot.state, name)?;
    let keys: Vec<AccessKey> = snapshot.state.access_keys.values().filter(|k| k.user == name).cloned().collect();
    let (keys, marker) = page(keys, q, |k| k.id.clone())?;
    Ok(answer(move |w| {
        xml::members(w, "AccessKeyMetadata", &keys, xml::access_key_metadata);
        xml::paging(w, &marker);
    }))
}

fn key_of<'a>(s: &'a mut State, id: &str, user: Option<&str>) -> Result<&'a mut AccessKey> {
    s.access_keys
        .get_mut(id)
        .filter(|k| user.is_none_or(|u| u == k.user))
        .ok_or_else(|| IamError::no_such(format!("The Access Key with id {id} cannot be found.")))
}

async fn update_access_key(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let id = required(q, "AccessKeyId")?.to_string();
    let user = q.get("UserName").map(str::to_string);
    let active = match required(q, "Status")? {
        "Active" => true,
        "Inactive" => false,
        other => {
            return Err(IamError::validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
            )));
        }
    };
    access
        .update(move |s| {
            key_of(s, &id, user.as_deref())?.active = active;
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn delete_access_key(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let id = required(q, "AccessKeyId")?.to_string();
    let user = q.get("UserName").map(str::to_string);
    access
        .update(move |s| {
            key_of(s, &id, user.as_deref())?;
            s.access_keys.remove(&id);
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn access_key_last_used(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let id = required(q, "AccessKeyId")?;
    let snapshot = access.snapshot().await?;
    let key = snapshot
        .state
        .access_keys
        .get(id)
        .cloned()
        .ok_or_else(|| IamError::no_such(format!("The Access Key with id {id} cannot be found.")))?;
    Ok(answer(move |w| {
        w.element("UserName", &key.user);
        w.open("AccessKeyLastUsed").element("ServiceName", "N/A").element("Region", "N/A").close();
    }))
}

// Groups. -----------------------------------------------------------------------------

async fn create_group(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "GroupName")?.to_string();
    check_name("groupName", &name, 128)?;
    let path = path_param(q)?;
    let group = Group {
        arn: arn_of(access, "group", &path, &name),
        id: model::new_id("AGPA"),
        name: name.clone(),
        path,
        created: Timestamp::now(),
        inline: BTreeMap::new(),
        attached: Vec::new(),
    };
    let stored = group.clone();
    access
        .update(move |s| {
            if s.groups.keys().any(|n| n.eq_ignore_ascii_case(&name)) {
                return Err(IamError::AlreadyExists(format!("Group with name {name} already exists.")));
            }
            s.groups.insert(name, stored);
            Ok(())
        })
        .await?;
    Ok(answer(move |w| {
        w.open("Group");
        xml::group(w, &group);
        w.close();
    }))
}

async fn get_group(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "GroupName")?;
    let snapshot = access.snapshot().await?;
    let group = snapshot.state.groups.get(name).cloned().ok_or_else(|| no_entity(EntityKind::Group, name))?;
    let users: Vec<User> =
        snapshot.state.users.values().filter(|u| u.groups.iter().any(|g| g == name)).cloned().collect();
    let (users, marker) = page(users, q, |u| u.name.clone())?;
    Ok(answer(move |w| {
        w.open("Group");
        xml::group(w, &group);
        w.close();
        xml::members(w, "Users", &users, |w, u| xml::user(w, u, false));
        xml::paging(w, &marker);
    }))
}

async fn list_groups(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let prefix = q.get("PathPrefix").unwrap_or("/").to_string();
    let snapshot = access.snapshot().await?;
    let groups: Vec<Group> = snapshot.state.groups.values().filter(|g| g.path.starts_with(&prefix)).cloned().collect();
    let (groups, marker) = page(groups, q, |g| g.name.clone())?;
    Ok(answer(move |w| {
        xml::members(w, "Groups", &groups, xml::group);
        xml::paging(w, &marker);
    }))
}

async fn delete_group(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "GroupName")?.to_string();
    access
        .update(move |s| {
            let group = s.groups.get(&name).ok_or_else(|| no_entity(EntityKind::Group, &name))?;
            let has_members = s.users.values().any(|u| u.groups.contains(&name));
            if has_members || !group.inline.is_empty() || !group.attached.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must remove users and policies from group first.".into(),
                ));
            }
            s.groups.remove(&name);
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn membership(access: &Access, q: &QueryRequest, add: bool) -> Result<Answer> {
    let group = required(q, "GroupName")?.to_string();
    let user = required(q, "UserName")?.to_string();
    access
        .update(move |s| {
            if !s.groups.contains_key(&group) {
                return Err(no_entity(EntityKind::Group, &group));
            }
            let u = s.users.get_mut(&user).ok_or_else(|| no_entity(EntityKind::User, &user))?;
            if add {
                if !u.groups.contains(&group) {
                    if u.groups.len() >= MAX_GROUPS_PER_USER {
                        return Err(IamError::LimitExceeded(format!(
                            "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"
                        )));
                    }
                    u.groups.push(group);
                }
            } else {
                if !u.groups.contains(&group) {
                    return Err(IamError::no_such(format!(
                        "The user with name {user} cannot be found in group {group}."
                    )));
                }
                u.groups.retain(|g| *g != group);
            }
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn groups_for_user(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "UserName")?;
    let snapshot = access.snapshot().await?;
    let user = find_user(&snapshot.state, name)?;
    let groups: Vec<Group> = user.groups.iter().filter_map(|g| snapshot.state.groups.get(g).cloned()).collect();
    let (groups, marker) = page(groups, q, |g| g.name.clone())?;
    Ok(answer(move |w| {
        xml::members(w, "Groups", &groups, xml::group);
        xml::paging(w, &marker);
    }))
}

// Roles. ------------------------------------------------------------------------------

fn session_duration(q: &QueryRequest) -> Result<Option<i64>> {
    q.get("MaxSessionDuration")
        .map(|s| {
            s.parse::<i64>().ok().filter(|d| (3600..=43200).contains(d)).ok_or_else(|| {
                IamError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"
                ))
            })
        })
        .transpose()
}

async fn create_role(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "RoleName")?.to_string();
    check_name("roleName", &name, 64)?;
    let path = path_param(q)?;
    let trust = required(q, "AssumeRolePolicyDocument")?.to_string();
    checked_document(&trust, PolicyKind::Resource, limits::TRUST_POLICY, "ACLSizePerRole")?;
    let role = Role {
        arn: arn_of(access, "role", &path, &name),
        id: model::new_id("AROA"),
        name: name.clone(),
        path,
        created: Timestamp::now(),
        trust_policy: trust,
        description: q.get("Description").map(str::to_string),
        max_session_duration: session_duration(q)?.unwrap_or(3600),
        tags: tags_param(q)?,
        inline: BTreeMap::new(),
        attached: Vec::new(),
    };
    let stored = role.clone();
    access
        .update(move |s| {
            if s.roles.keys().any(|n| n.eq_ignore_ascii_case(&name)) {
                return Err(IamError::AlreadyExists(format!("Role with name {name} already exists.")));
            }
            s.roles.insert(name, stored);
            Ok(())
        })
        .await?;
    Ok(answer(move |w| {
        w.open("Role");
        xml::role(w, &role, true);
        w.close();
    }))
}

async fn get_role(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "RoleName")?;
    let snapshot = access.snapshot().await?;
    let role = snapshot.state.roles.get(name).cloned().ok_or_else(|| no_entity(EntityKind::Role, name))?;
    Ok(answer(move |w| {
        w.open("Role");
        xml::role(w, &role, true);
        w.close();
    }))
}

async fn list_roles(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let prefix = q.get("PathPrefix").unwrap_or("/").to_string();
    let snapshot = access.snapshot().await?;
    let roles: Vec<Role> = snapshot.state.roles.values().filter(|r| r.path.starts_with(&prefix)).cloned().collect();
    let (roles, marker) = page(roles, q, |r| r.name.clone())?;
    Ok(answer(move |w| {
        xml::members(w, "Roles", &roles, |w, r| xml::role(w, r, false));
        xml::paging(w, &marker);
    }))
}

async fn update_role(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "RoleName")?.to_string();
    let description = q.get("Description").map(str::to_string);
    let duration = session_duration(q)?;
    access
        .update(move |s| {
            let role = s.roles.get_mut(&name).ok_or_else(|| no_entity(EntityKind::Role, &name))?;
            if description.is_some() {
                role.description = description;
            }
            if let Some(d) = duration {
                role.max_session_duration = d;
            }
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn delete_role(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "RoleName")?.to_string();
    access
        .update(move |s| {
            let role = s.roles.get(&name).ok_or_else(|| no_entity(EntityKind::Role, &name))?;
            if !role.inline.is_empty() || !role.attached.is_empty() {
                return Err(IamError::DeleteConflict("Cannot delete entity, must detach all policies first.".into()));
            }
            s.roles.remove(&name);
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn update_trust(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "RoleName")?.to_string();
    let trust = required(q, "PolicyDocument")?.to_string();
    checked_document(&trust, PolicyKind::Resource, limits::TRUST_POLICY, "ACLSizePerRole")?;
    access
        .update(move |s| {
            s.roles.get_mut(&name).ok_or_else(|| no_entity(EntityKind::Role, &name))?.trust_policy = trust;
            Ok(())
        })
        .await?;
    Ok(empty())
}

// Managed policies. -------------------------------------------------------------------

/// A customer managed policy or an AWS managed one.
fn find_policy(state: &State, arn: &str) -> Result<ManagedPolicy> {
    state
        .policies
        .get(arn)
        .cloned()
        .or_else(|| managed::get(arn))
        .ok_or_else(|| IamError::no_such(format!("Policy {arn} does not exist or is not attachable.")))
}

fn customer_policy<'a>(state: &'a mut State, arn: &str) -> Result<&'a mut ManagedPolicy> {
    if arn.starts_with(managed::PREFIX) && managed::get(arn).is_some() {
        return Err(IamError::InvalidInput(format!("Policy {arn} is an AWS managed policy and cannot be changed.")));
    }
    state.policies.get_mut(arn).ok_or_else(|| IamError::no_such(format!("Policy {arn} was not found.")))
}

async fn create_policy(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "PolicyName")?.to_string();
    check_name("policyName", &name, 128)?;
    let path = path_param(q)?;
    let document = required(q, "PolicyDocument")?.to_string();
    checked_document(&document, PolicyKind::Identity, limits::MANAGED_POLICY, "PolicySize")?;
    let now = Timestamp::now();
    let policy = ManagedPolicy {
        arn: arn_of(access, "policy", &path, &name),
        id: model::new_id("ANPA"),
        name,
        path,
        created: now,
        updated: now,
        description: q.get("Description").map(str::to_string),
        default_version: "v1".into(),
        versions: vec![PolicyVersion { id: "v1".into(), document, created: now }],
        next_version: 2,
        tags: tags_param(q)?,
    };
    let stored = policy.clone();
    access
        .update(move |s| {
            if s.policies.contains_key(&stored.arn) {
                return Err(IamError::AlreadyExists(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    stored.name
                )));
            }
            s.policies.insert(stored.arn.clone(), stored);
            Ok(())
        })
        .await?;
    Ok(answer(move |w| {
        w.open("Policy");
        xml::policy(w, &policy, 0);
        w.close();
    }))
}

async fn get_policy(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "PolicyArn")?;
    let snapshot = access.snapshot().await?;
    let policy = find_policy(&snapshot.state, arn)?;
    let count = snapshot.state.attachment_count(arn);
    Ok(answer(move |w| {
        w.open("Policy");
        xml::policy(w, &policy, count);
        w.close();
    }))
}

async fn list_policies(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let scope = q.get("Scope").unwrap_or("All");
    let only_attached = q.get("OnlyAttached") == Some("true");
    let prefix = q.get("PathPrefix").unwrap_or("/").to_string();
    let snapshot = access.snapshot().await?;
    let mut all: Vec<ManagedPolicy> = Vec::new();
    if matches!(scope, "All" | "AWS") {
        all.extend(managed::all());
    }
    if matches!(scope, "All" | "Local") {
        all.extend(snapshot.state.policies.values().cloned());
    }
    if !matches!(scope, "All" | "AWS" | "Local") {
        return Err(IamError::validation(format!("Scope must be one of All, AWS, Local, not '{scope}'")));
    }
    let mut listed: Vec<(ManagedPolicy, usize)> = all
        .into_iter()
        .filter(|p| p.path.starts_with(&prefix))
        .map(|p| {
            let count = snapshot.state.attachment_count(&p.arn);
            (p, count)
        })
        .filter(|(_, count)| !only_attached || *count > 0)
        .collect();
    listed.sort_by(|a, b| a.0.arn.cmp(&b.0.arn));
    let (listed, marker) = page(listed, q, |(p, _)| p.arn.clone())?;
    Ok(answer(move |w| {
        xml::members(w, "Policies", &listed, |w, (p, count)| xml::policy(w, p, *count));
        xml::paging(w, &marker);
    }))
}

async fn delete_policy(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "PolicyArn")?.to_string();
    access
        .update(move |s| {
            customer_policy(s, &arn)?;
            if s.attachment_count(&arn) > 0 {
                return Err(IamError::DeleteConflict("Cannot delete a policy attached to entities.".into()));
            }
            if s.policies[&arn].versions.len() > 1 {
                return Err(IamError::DeleteConflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
                ));
            }
            s.policies.remove(&arn);
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn create_policy_version(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "PolicyArn")?.to_string();
    let document = required(q, "PolicyDocument")?.to_string();
    checked_document(&document, PolicyKind::Identity, limits::MANAGED_POLICY, "PolicySize")?;
    let set_default = q.get("SetAsDefault") == Some("true");
    let version = access
        .update(move |s| {
            let p = customer_policy(s, &arn)?;
            if p.versions.len() >= MAX_POLICY_VERSIONS {
                return Err(IamError::LimitExceeded(format!(
                    "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version."
                )));
            }
            let now = Timestamp::now();
            let v = PolicyVersion { id: format!("v{}", p.next_version), document, created: now };
            p.next_version += 1;
            p.updated = now;
            if set_default {
                p.default_version = v.id.clone();
            }
            p.versions.push(v.clone());
            Ok(v)
        })
        .await?;
    Ok(answer(move |w| {
        w.open("PolicyVersion");
        xml::policy_version(w, &version, set_default, false);
        w.close();
    }))
}

fn version_of<'a>(p: &'a ManagedPolicy, id: &str) -> Result<&'a PolicyVersion> {
    p.versions
        .iter()
        .find(|v| v.id == id)
        .ok_or_else(|| IamError::no_such(format!("Policy {} version {id} does not exist or is not attachable.", p.arn)))
}

async fn get_policy_version(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "PolicyArn")?;
    let id = required(q, "VersionId")?;
    let snapshot = access.snapshot().await?;
    let policy = find_policy(&snapshot.state, arn)?;
    let version = version_of(&policy, id)?.clone();
    let default = policy.default_version == version.id;
    Ok(answer(move |w| {
        w.open("PolicyVersion");
        xml::policy_version(w, &version, default, true);
        w.close();
    }))
}

async fn list_policy_versions(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "PolicyArn")?;
    let snapshot = access.snapshot().await?;
    let policy = find_policy(&snapshot.state, arn)?;
    let mut versions = policy.versions.clone();
    versions.reverse();
    let default = policy.default_version.clone();
    Ok(answer(move |w| {
        xml::members(w, "Versions", &versions, |w, v| xml::policy_version(w, v, v.id == default, false));
        w.element("IsTruncated", "false");
    }))
}

async fn set_default_version(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "PolicyArn")?.to_string();
    let id = required(q, "VersionId")?.to_string();
    access
        .update(move |s| {
            let p = customer_policy(s, &arn)?;
            version_of(p, &id)?;
            p.default_version = id;
            p.updated = Timestamp::now();
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn delete_policy_version(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "PolicyArn")?.to_string();
    let id = required(q, "VersionId")?.to_string();
    access
        .update(move |s| {
            let p = customer_policy(s, &arn)?;
            version_of(p, &id)?;
            if p.default_version == id {
                return Err(IamError::DeleteConflict("Cannot delete the default version of a policy.".into()));
            }
            p.versions.retain(|v| v.id != id);
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn tag_policy(access: &Access, q: &QueryRequest, add: bool) -> Result<Answer> {
    let arn = required(q, "PolicyArn")?.to_string();
    let q = q.clone();
    access.update(move |s| apply_tags(&mut customer_policy(s, &arn)?.tags, &q, add)).await?;
    Ok(empty())
}

async fn list_policy_tags(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "PolicyArn")?;
    let snapshot = access.snapshot().await?;
    let tags = find_policy(&snapshot.state, arn)?.tags;
    Ok(answer(move |w| {
        xml::tags(w, &tags);
        w.element("IsTruncated", "false");
    }))
}

// Attachments and inline policies. ----------------------------------------------------

async fn attach(access: &Access, q: &QueryRequest, kind: EntityKind, add: bool) -> Result<Answer> {
    let name = required(q, entity_name_param(kind))?.to_string();
    let arn = required(q, "PolicyArn")?.to_string();
    access
        .update(move |s| {
            if add {
                find_policy(s, &arn)?;
            }
            let policies = s.policies_of(kind, &name)?;
            if add {
                if !policies.attached.contains(&arn) {
                    if policies.attached.len() >= MAX_ATTACHED_POLICIES {
                        return Err(IamError::LimitExceeded(format!(
                            "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED_POLICIES}",
                            match kind {
                                EntityKind::User => "User",
                                EntityKind::Group => "Group",
                                EntityKind::Role => "Role",
                            }
                        )));
                    }
                    policies.attached.push(arn);
                }
            } else {
                if !policies.attached.contains(&arn) {
                    return Err(IamError::no_such(format!("Policy {arn} was not found.")));
                }
                policies.attached.retain(|a| *a != arn);
            }
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn list_attached(access: &Access, q: &QueryRequest, kind: EntityKind) -> Result<Answer> {
    let name = required(q, entity_name_param(kind))?;
    let mut state = access.snapshot().await?.state.clone();
    let attached = state.policies_of(kind, name)?.attached.clone();
    let (attached, marker) = page(attached, q, |a| a.clone())?;
    Ok(answer(move |w| {
        xml::attached(w, "AttachedPolicies", &attached);
        xml::paging(w, &marker);
    }))
}

fn inline_limit(kind: EntityKind) -> (usize, &'static str) {
    match kind {
        EntityKind::User => (limits::USER_INLINE_TOTAL, "UserPolicySize"),
        EntityKind::Group => (limits::GROUP_INLINE_TOTAL, "GroupPolicySize"),
        EntityKind::Role => (limits::ROLE_INLINE_TOTAL, "RolePolicySize"),
    }
}

async fn put_inline(access: &Access, q: &QueryRequest, kind: EntityKind) -> Result<Answer> {
    let name = required(q, entity_name_param(kind))?.to_string();
    let policy_name = required(q, "PolicyName")?.to_string();
    check_name("policyName", &policy_name, 128)?;
    let document = required(q, "PolicyDocument")?.to_string();
    let (limit, quota) = inline_limit(kind);
    checked_document(&document, PolicyKind::Identity, limit, quota)?;
    access
        .update(move |s| {
            let policies = s.policies_of(kind, &name)?;
            policies.inline.insert(policy_name, document);
            let total: usize = policies.inline.values().map(|d| policy_size(d)).sum();
            if total > limit {
                return Err(IamError::LimitExceeded(format!(
                    "Maximum policy size of {limit} bytes exceeded for {} {name}",
                    kind.title()
                )));
            }
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn get_inline(access: &Access, q: &QueryRequest, kind: EntityKind) -> Result<Answer> {
    let param = entity_name_param(kind);
    let name = required(q, param)?.to_string();
    let policy_name = required(q, "PolicyName")?.to_string();
    let mut state = access.snapshot().await?.state.clone();
    let document = state.policies_of(kind, &name)?.inline.get(&policy_name).cloned().ok_or_else(|| {
        IamError::no_such(format!("The {} policy with name {policy_name} cannot be found.", kind.title()))
    })?;
    Ok(answer(move |w| {
        w.element(param, &name)
            .element("PolicyName", &policy_name)
            .element("PolicyDocument", &xml::url_encode(&document));
    }))
}

async fn delete_inline(access: &Access, q: &QueryRequest, kind: EntityKind) -> Result<Answer> {
    let name = required(q, entity_name_param(kind))?.to_string();
    let policy_name = required(q, "PolicyName")?.to_string();
    access
        .update(move |s| {
            s.policies_of(kind, &name)?.inline.remove(&policy_name).ok_or_else(|| {
                IamError::no_such(format!("The {} policy with name {policy_name} cannot be found.", kind.title()))
            })?;
            Ok(())
        })
        .await?;
    Ok(empty())
}

async fn list_inline(access: &Access, q: &QueryRequest, kind: EntityKind) -> Result<Answer> {
    let name = required(q, entity_name_param(kind))?;
    let mut state = access.snapshot().await?.state.clone();
    let names: Vec<String> = state.policies_of(kind, name)?.inline.keys().cloned().collect();
    let (names, marker) = page(names, q, |n| n.clone())?;
    Ok(answer(move |w| {
        xml::string_members(w, "PolicyNames", &names);
        xml::paging(w, &marker);
    }))
}

// Whole-account views. ----------------------------------------------------------------

async fn authorization_details(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let filter = q.list("Filter");
    let wants = |what: &str| filter.is_empty() || filter.contains(&what);
    let snapshot = access.snapshot().await?;
    let state = snapshot.state.clone();
    let (users, groups, roles) = (wants("User"), wants("Group"), wants("Role"));
    let (local, aws) = (wants("LocalManagedPolicy"), wants("AWSManagedPolicy"));
    let mut policies: Vec<ManagedPolicy> = Vec::new();
    if aws {
        policies.extend(managed::all().into_iter().filter(|p| state.attachment_count(&p.arn) > 0));
    }
    if local {
        policies.extend(state.policies.values().cloned());
    }
    Ok(answer(move |w| {
        let users_list: Vec<&User> = if users { state.users.values().collect() } else { Vec::new() };
        xml::members(w, "UserDetailList", &users_list, |w, u| {
            xml::user(w, u, true);
            xml::inline_list(w, "UserPolicyList", &u.inline);
            xml::string_members(w, "GroupList", &u.groups);
            xml::attached(w, "AttachedManagedPolicies", &u.attached);
        });
        let group_list: Vec<&Group> = if groups { state.groups.values().collect() } else { Vec::new() };
        xml::members(w, "GroupDetailList", &group_list, |w, g| {
            xml::group(w, g);
            xml::inline_list(w, "GroupPolicyList", &g.inline);
            xml::attached(w, "AttachedManagedPolicies", &g.attached);
        });
        let role_list: Vec<&Role> = if roles { state.roles.values().collect() } else { Vec::new() };
        xml::members(w, "RoleDetailList", &role_list, |w, r| {
            xml::role(w, r, true);
            xml::members::<()>(w, "InstanceProfileList", &[], |_, _| {});
            xml::inline_list(w, "RolePolicyList", &r.inline);
            xml::attached(w, "AttachedManagedPolicies", &r.attached);
        });
        xml::members(w, "Policies", &policies, |w, p| {
            xml::policy(w, p, state.attachment_count(&p.arn));
            xml::members(w, "PolicyVersionList", &p.versions, |w, v| {
                xml::policy_version(w, v, v.id == p.default_version, true)
            });
        });
        w.element("IsTruncated", "false");
    }))
}

/// `ContextEntries.member.N.ContextKeyName` / `.ContextKeyValues.member.M`.
fn context_entries(q: &QueryRequest, keys: &mut ContextKeys) {
    for i in 1.. {
        let Some(name) = q.get(&format!("ContextEntries.member.{i}.ContextKeyName")) else { break };
        let values: Vec<String> =
            q.list(&format!("ContextEntries.member.{i}.ContextKeyValues")).into_iter().map(str::to_string).collect();
        keys.insert_all(name, values);
    }
}

async fn simulate(access: &Access, q: &QueryRequest) -> Result<Answer> {
    let source = required(q, "PolicySourceArn")?;
    let actions: Vec<String> = q.list("ActionNames").into_iter().map(str::to_string).collect();
    if actions.is_empty() {
        return Err(IamError::validation("ActionNames must name at least one action"));
    }
    let mut resources: Vec<String> = q.list("ResourceArns").into_iter().map(str::to_string).collect();
    if resources.is_empty() {
        resources.push("*".into());
    }
    let snapshot = access.snapshot().await?;
    let policies = match snapshot.policies_of(source) {
        Some(Ok(p)) => p.clone(),
        Some(Err(e)) => return Err(IamError::MalformedPolicy(e.clone())),
        None => {
            return Err(IamError::InvalidInput(format!(
                "Invalid Entity Arn: {source} does not clearly define entity type and name."
            )));
        }
    };
    let mut extra: Vec<(String, PolicyDocument)> = Vec::new();
    for (i, text) in q.list("PolicyInputList").into_iter().enumerate() {
        let doc =
            PolicyDocument::parse(text, PolicyKind::Identity).map_err(|e| IamError::MalformedPolicy(e.to_string()))?;
        extra.push((format!("PolicyInputList.{}", i + 1), doc));
    }
    let mut keys = ContextKeys::new();
    keys.insert("aws:PrincipalArn", source.to_string());
    keys.insert("aws:CurrentTime", Timestamp::now().to_iso8601());
    if let Some((EntityKind::User, name)) = access.entity_of_arn(source) {
        keys.insert("aws:username", name.to_string());
    }
    context_entries(q, &mut keys);
    let all: Vec<&(String, PolicyDocument)> = policies.iter().chain(extra.iter()).collect();
    let mut results = Vec::new();
    for action in &actions {
        for resource in &resources {
            let ctx = RequestContext { action, resource, principal: None, keys: &keys };
            let (decision, by) = evaluate_explained(all.iter().map(|(_, p)| p), &ctx);
            let matched = by.map(|(i, _)| all[i].0.clone());
            results.push((action.clone(), resource.clone(), decision, matched));
        }
    }
    Ok(answer(move |w: &mut XmlWriter| {
        xml::members(w, "EvaluationResults", &results, |w, (action, resource, decision, matched)| {
            w.element("EvalActionName", action).element("EvalResourceName", resource).element(
                "EvalDecision",
                match decision {
                    Decision::Allow => "allowed",
                    Decision::ExplicitDeny => "explicitDeny",
                    Decision::ImplicitDeny => "implicitDeny",
                },
            );
            let statements: Vec<&String> = matched.iter().collect();
            xml::members(w, "MatchedStatements", &statements, |w, id| {
                w.element("SourcePolicyId", id).element("SourcePolicyType", "IAM Policy");
            });
            xml::string_members(w, "MissingContextValues", &[]);
        });
        w.element("IsTruncated", "false");
    }))
}

#[cfg(test)]
mod tests;
