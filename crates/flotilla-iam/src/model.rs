//! IAM's entities as stored, the rules of their names, and how ids and keys are made.

use crate::error::{IamError, Result};
use flotilla_core::Timestamp;
use flotilla_core::tag::Tag;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Policies (managed and inline) an entity may have attached, as AWS's default quota.
pub const MAX_ATTACHED_POLICIES: usize = 10;
/// Access keys per user.
pub const MAX_ACCESS_KEYS: usize = 2;
/// Versions a managed policy keeps.
pub const MAX_POLICY_VERSIONS: usize = 5;
/// Groups a user may belong to.
pub const MAX_GROUPS_PER_USER: usize = 10;

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub path: String,
    pub created: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Inline policies by name.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    /// Attached managed policies' ARNs.
    #[serde(default)]
    pub attached: Vec<String>,
    /// The groups it belongs to, by name.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub path: String,
    pub created: Timestamp,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub path: String,
    pub created: Timestamp,
    /// The trust policy: who may assume it.
    pub trust_policy: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Seconds a session may last at most (3600 to 43200).
    pub max_session_duration: i64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub id: String,
    pub document: String,
    pub created: Timestamp,
}

/// A customer managed policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub path: String,
    pub created: Timestamp,
    pub updated: Timestamp,
    #[serde(default)]
    pub description: Option<String>,
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    /// The number the next version gets.
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    pub fn default_document(&self) -> Option<&str> {
        self.versions.iter().find(|v| v.id == self.default_version).map(|v| v.document.as_str())
    }
}

/// An IAM user's access key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub user: String,
    pub secret: String,
    pub active: bool,
    pub created: Timestamp,
}

/// A role session STS handed out: temporary credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub access_key_id: String,
    pub secret: String,
    pub token: String,
    pub role_name: String,
    pub role_arn: String,
    pub role_id: String,
    pub session_name: String,
    pub expires: Timestamp,
    /// The session policy, which narrows the role's permissions.
    #[serde(default)]
    pub policy: Option<String>,
    /// Who assumed the role (its ARN).
    pub source: String,
}

impl Session {
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub fn arn(&self, account_id: &str) -> String {
        format!("arn:aws:sts::{account_id}:assumed-role/{}/{}", self.role_name, self.session_name)
    }
}

/// Every IAM entity of the account, as one value: read at once, changed at once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, Role>,
    /// Customer managed policies by ARN.
    pub policies: BTreeMap<String, ManagedPolicy>,
    pub access_keys: BTreeMap<String, AccessKey>,
}

/// The kind of entity a policy is attached to or inlined in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Group,
    Role,
}

impl EntityKind {
    /// As AWS names it in messages: `user`, `group`, `role`.
    pub fn title(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }
}

/// The inline policies and attachments of one entity, whatever its kind.
pub struct Policies<'a> {
    pub inline: &'a mut BTreeMap<String, String>,
    pub attached: &'a mut Vec<String>,
}

impl State {
    /// The policies of the entity `name` of `kind`, or NoSuchEntity.
    pub fn policies_of(&mut self, kind: EntityKind, name: &str) -> Result<Policies<'_>> {
        let missing = || IamError::no_such(format!("The {} with name {name} cannot be found.", kind.title()));
        Ok(match kind {
            EntityKind::User => {
                let u = self.users.get_mut(name).ok_or_else(missing)?;
                Policies { inline: &mut u.inline, attached: &mut u.attached }
            }
            EntityKind::Group => {
                let g = self.groups.get_mut(name).ok_or_else(missing)?;
                Policies { inline: &mut g.inline, attached: &mut g.attached }
            }
            EntityKind::Role => {
                let r = self.roles.get_mut(name).ok_or_else(missing)?;
                Policies { inline: &mut r.inline, attached: &mut r.attached }
            }
        })
    }

    /// How many users, groups and roles a managed policy is attached to.
    pub fn attachment_count(&self, arn: &str) -> usize {
        let has = |attached: &Vec<String>| attached.iter().any(|a| a == arn);
        self.users.values().filter(|u| has(&u.attached)).count()
            + self.groups.values().filter(|g| has(&g.attached)).count()
            + self.roles.values().filter(|r| has(&r.attached)).count()
    }
}

/// A user, group or role name: `[\w+=,.@-]`, 1 to `max` characters.
pub fn check_name(what: &str, name: &str, max: usize) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= max
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(IamError::validation(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must \
             satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and {max}"
        )))
    }
}

/// A path: `/` alone or `/…/`, at most 512 characters of printable ASCII.
pub fn check_path(path: &str) -> Result<()> {
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if ok {
        Ok(())
    } else {
        Err(IamError::validation(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric \
             characters and/or / characters: '{path}'"
        )))
    }
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `n` characters of `alphabet` (of 32 or 64 symbols) from the OS's random source
/// (through uuid v4, whose 122 random bits per id come from it).
fn random_chars(n: usize, alphabet: &[u8]) -> String {
    let bits = alphabet.len().trailing_zeros();
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        // Skip the version and variant nibbles (bytes 6 and 8): use the rest's low bits.
        for (i, b) in bytes.iter().enumerate() {
            if i == 6 || i == 8 || out.len() == n {
                continue;
            }
            out.push(alphabet[(*b as usize) & ((1 << bits) - 1)] as char);
        }
    }
    out
}

/// A unique id as IAM makes them: a four-letter prefix (`AIDA` users, `AGPA` groups,
/// `AROA` roles, `ANPA` policies) and 17 characters.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", random_chars(17, UPPER_ALNUM))
}

/// A long-term access key id (`AKIA…`) or a session's (`ASIA…`): 20 characters.
pub fn new_access_key_id(prefix: &str) -> String {
    format!("{prefix}{}", random_chars(16, UPPER_ALNUM))
}

/// A secret access key: 40 characters.
pub fn new_secret() -> String {
    random_chars(40, SECRET_CHARS)
}

/// A session token: long and opaque.
pub fn new_session_token() -> String {
    format!("FQoGZXIvYXdzE{}", random_chars(200, SECRET_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert!(check_name("userName", "alice.b@x-1", 64).is_ok());
        assert!(check_name("userName", "", 64).is_err());
        assert!(check_name("userName", "a b", 64).is_err());
        assert!(check_name("userName", &"a".repeat(65), 64).is_err());
        assert!(check_path("/").is_ok());
        assert!(check_path("/team/a/").is_ok());
        assert!(check_path("team/").is_err());
        assert!(check_path("/team").is_err());
    }

    #[test]
    fn ids_and_keys_look_like_aws() {
        let id = new_id("AIDA");
        assert_eq!(id.len(), 21);
        assert!(id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(new_access_key_id("AKIA").len(), 20);
        assert_eq!(new_secret().len(), 40);
        assert_ne!(new_secret(), new_secret());
    }
}
