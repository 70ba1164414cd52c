//! PutParameter, GetParameter(s), DeleteParameter(s), GetParameterHistory and
//! LabelParameterVersion.

use crate::error::{Code, Result, SsmError};
use crate::names::{self, Selector};
use crate::store::{LabelOutcome, ParameterType, PutOutcome, StoredValue, Tag, VersionRecord};
use crate::{Found, SsmService};
use flotilla_core::Timestamp;
use flotilla_core::paging;
use flotilla_protocol::Caller;
use serde::Deserialize;
use serde_json::{Value, json};

/// The KMS key SecureStrings name when none is given.
pub const DEFAULT_KEY_ID: &str = "alias/aws/ssm";
const STANDARD: &str = "Standard";
const ADVANCED: &str = "Advanced";
const INTELLIGENT: &str = "Intelligent-Tiering";
const STANDARD_MAX_VALUE: usize = 4096;
const ADVANCED_MAX_VALUE: usize = 8192;
const MAX_DESCRIPTION: usize = 1024;
const MAX_PATTERN: usize = 1024;
/// Writes lost to a concurrent put are read again this many times.
const PUT_ATTEMPTS: u32 = 20;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterInput {
    name: String,
    value: String,
    #[serde(rename = "Type")]
    kind: Option<String>,
    description: Option<String>,
    key_id: Option<String>,
    #[serde(default)]
    overwrite: bool,
    allowed_pattern: Option<String>,
    tags: Option<Vec<Tag>>,
    tier: Option<String>,
    policies: Option<String>,
    data_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterInput {
    name: String,
    #[serde(default)]
    with_decryption: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersInput {
    names: Vec<String>,
    #[serde(default)]
    with_decryption: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameInput {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamesInput {
    names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryInput {
    name: String,
    #[serde(default)]
    with_decryption: bool,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelInput {
    name: String,
    parameter_version: Option<i64>,
    labels: Vec<String>,
}

/// Checks a KeyId against the model's pattern.
fn validate_key_id(key_id: &str) -> Result<()> {
    if key_id.is_empty()
        || key_id.len() > 256
        || !key_id.chars().all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c))
    {
        return Err(SsmError::refused(Code::InvalidKeyId, format!("The KeyId {key_id} is not valid.")));
    }
    Ok(())
}

/// The compiled AllowedPattern; a value must match it whole.
pub(crate) fn allowed_pattern(pattern: &str) -> Result<regex::Regex> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$")).size_limit(1 << 20).build().map_err(|e| {
        SsmError::refused(Code::InvalidAllowedPattern, format!("The allowed pattern {pattern} is not valid: {e}"))
    })
}

/// The tier a value is stored in: `requested` (or the parameter's, or Standard), with
/// AWS's limits.
fn resolve_tier(requested: Option<&str>, existing: Option<&str>, value_len: usize) -> Result<String> {
    let was_advanced = existing == Some(ADVANCED);
    let tier = match requested {
        None if was_advanced => ADVANCED,
        None | Some(STANDARD) => {
            if was_advanced {
                return Err(SsmError::validation(
                    "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the \
                     advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the \
                     advanced parameter and recreate it as a standard parameter.",
                ));
            }
            STANDARD
        }
        Some(ADVANCED) => ADVANCED,
        Some(INTELLIGENT) if was_advanced || value_len > STANDARD_MAX_VALUE => ADVANCED,
        Some(INTELLIGENT) => STANDARD,
        Some(other) => {
            return Err(SsmError::validation(format!(
                "1 validation error detected: Value '{other}' at 'tier' failed to satisfy constraint: Member must \
                 satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]"
            )));
        }
    };
    if tier == STANDARD && value_len > STANDARD_MAX_VALUE {
        return Err(SsmError::validation(format!(
            "Standard tier parameters support a maximum parameter value of {STANDARD_MAX_VALUE} characters. To \
             create a larger parameter value, upgrade the parameter to use the advanced-parameter tier."
        )));
    }
    if value_len > ADVANCED_MAX_VALUE {
        return Err(SsmError::validation(format!(
            "Advanced tier parameters support a maximum parameter value of {ADVANCED_MAX_VALUE} characters."
        )));
    }
    Ok(tier.to_string())
}

/// Who changed a parameter, as LastModifiedUser shows it.
fn user(service: &SsmService, caller: &Caller) -> String {
    caller.principal_arn.clone().unwrap_or_else(|| service.account.root_principal_arn())
}

impl SsmService {
    /// `Parameter` of GetParameter(s) and GetParametersByPath.
    pub(crate) fn parameter_shape(
        &self,
        v: &VersionRecord,
        selector: Option<&Selector>,
        with_decryption: bool,
    ) -> Result<Value> {
        let mut out = json!({
            "Name": v.name,
            "Type": v.kind.as_str(),
            "Value": self.answer_value(v, with_decryption)?,
            "Version": v.version,
            "LastModifiedDate": v.modified_at.as_epoch_seconds(),
            "ARN": self.arn(&v.name),
            "DataType": v.data_type,
        });
        if let Some(s) = selector {
            out["Selector"] = json!(s.display());
        }
        Ok(out)
    }

    pub(crate) async fn put_parameter(&self, input: PutParameterInput, caller: &Caller) -> Result<Value> {
        let name = if input.name.starts_with("arn:") {
            let r = self.parse_ref(&input.name)?;
            if r.selector.is_some() {
                return Err(SsmError::validation("A parameter name can't include a version or label selector."));
            }
            match self.existing_name(&r).await? {
                Some(n) => n,
                None => r.candidates[0].clone(),
            }
        } else {
            input.name.clone()
        };
        names::validate_name(&name)?;
        let kind = match input.kind.as_deref() {
            None => None,
            Some(t) => Some(ParameterType::parse(t).ok_or_else(|| {
                SsmError::validation(format!(
                    "1 validation error detected: Value '{t}' at 'type' failed to satisfy constraint: Member must \
                     satisfy enum value set: [SecureString, StringList, String]"
                ))
            })?),
        };
        if input.value.is_empty() {
            return Err(SsmError::validation(
                "1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have \
                 length greater than or equal to 1",
            ));
        }
        if input.value.contains("{{") && input.value.contains("}}") {
            return Err(SsmError::validation(
                "Parameter value can't nest another parameter. Do not use \"{{}}\" in the value.",
            ));
        }
        if input.description.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION) {
            return Err(SsmError::validation(format!(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have \
                 length less than or equal to {MAX_DESCRIPTION}"
            )));
        }
        if let Some(p) = &input.allowed_pattern {
            if p.len() > MAX_PATTERN {
                return Err(SsmError::validation(format!(
                    "1 validation error detected: Value at 'allowedPattern' failed to satisfy constraint: Member \
                     must have length less than or equal to {MAX_PATTERN}"
                )));
            }
            allowed_pattern(p)?;
        }
        if let Some(k) = &input.key_id {
            validate_key_id(k)?;
        }
        let tags = input.tags.clone().unwrap_or_default();
        if input.overwrite && input.tags.is_some() {
            return Err(SsmError::validation(
                "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please \
                 remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or \
                 RemoveTagsFromResource.",
            ));
        }
        crate::tags::validate(&tags)?;
        if input.policies.as_ref().is_some_and(|p| !p.trim().is_empty() && p.trim() != "[]") {
            return Err(SsmError::refused(
                Code::InvalidPolicyType,
                "Parameter policies are not supported by this Parameter Store.",
            ));
        }
        let data_type = input.data_type.clone().unwrap_or_else(|| "text".to_string());
        match data_type.as_str() {
            "text" => {}
            "aws:ec2:image" => {
                let ok = input
                    .value
                    .strip_prefix("ami-")
                    .is_some_and(|id| (8..=17).contains(&id.len()) && id.chars().all(|c| c.is_ascii_hexdigit()));
                if !ok {
                    return Err(SsmError::validation(format!(
                        "The value {} is not a valid image id for the data type aws:ec2:image.",
                        input.value
                    )));
                }
            }
            other => {
                return Err(SsmError::validation(format!(
                    "The following data type is not supported: {other} (supported: text, aws:ec2:image)"
                )));
            }
        }
        let modified_user = user(self, caller);

        flotilla_db::retry_on_conflict(PUT_ATTEMPTS, SsmError::is_conflict, || async {
            let existing = self.store.latest(&name).await?;
            if existing.is_some() && !input.overwrite {
                return Err(SsmError::refused(
                    Code::ParameterAlreadyExists,
                    "The parameter already exists. To overwrite this request value, set the overwrite option in the \
                     request to true.",
                ));
            }
            let kind = match (kind, &existing) {
                (Some(k), _) => k,
                (None, Some(e)) => e.kind,
                (None, None) => {
                    return Err(SsmError::validation("A parameter type is required when you create a parameter."));
                }
            };
            let key_id = match (kind, &input.key_id) {
                (ParameterType::SecureString, Some(k)) => Some(k.clone()),
                (ParameterType::SecureString, None) => {
                    Some(existing.as_ref().and_then(|e| e.key_id.clone()).unwrap_or_else(|| DEFAULT_KEY_ID.to_string()))
                }
                (_, Some(_)) => {
                    return Err(SsmError::validation("KeyId is required for SecureString type parameter only."));
                }
                (_, None) => None,
            };
            let description =
                input.description.clone().or_else(|| existing.as_ref().and_then(|e| e.description.clone()));
            let pattern =
                input.allowed_pattern.clone().or_else(|| existing.as_ref().and_then(|e| e.allowed_pattern.clone()));
            if let Some(p) = &pattern
                && !allowed_pattern(p)?.is_match(&input.value)
            {
                return Err(SsmError::refused(
                    Code::ParameterPatternMismatch,
                    format!("Parameter value, cannot be validated against allowedPattern: {p}"),
                ));
            }
            let tier =
                resolve_tier(input.tier.as_deref(), existing.as_ref().map(|e| e.tier.as_str()), input.value.len())?;
            let expected = existing.as_ref().map(|e| e.version);
            let version = expected.unwrap_or(0) + 1;
            let value = match kind {
                ParameterType::SecureString => {
                    StoredValue::Sealed(self.sealer.seal(input.value.as_bytes(), &self.seal_context(&name, version)))
                }
                _ => StoredValue::Plain(input.value.clone()),
            };
            let record = VersionRecord {
                name: name.clone(),
                version,
                kind,
                value,
                key_id,
                description,
                allowed_pattern: pattern,
                tier: tier.clone(),
                data_type: data_type.clone(),
                modified_at: Timestamp::now(),
                modified_user: modified_user.clone(),
                labels: Vec::new(),
            };
            match self.store.put(&record, expected, &tags).await? {
                PutOutcome::Stored => Ok(json!({"Version": version, "Tier": tier})),
                PutOutcome::OldestLabelled { version: oldest } => Err(SsmError::refused(
                    Code::ParameterMaxVersionLimitExceeded,
                    format!(
                        "You attempted to create a new version of {name} by calling the PutParameter API with the \
                         overwrite flag. Version {oldest}, the oldest version, can't be deleted because it has a \
                         label associated with it. Move the label to another version of the parameter, and try again."
                    ),
                )),
            }
        })
        .await
    }

    /// One parameter for GetParameter(s): its version, or why not.
    async fn get_one(&self, given: &str, with_decryption: bool) -> Result<Value> {
        let r = self.parse_ref(given)?;
        match self.find(&r).await? {
            Found::Version(v) => self.parameter_shape(&v, r.selector.as_ref(), with_decryption),
            Found::NoParameter => Err(SsmError::not_found(given)),
            Found::NoVersion(name) => Err(SsmError::refused(
                Code::ParameterVersionNotFound,
                match &r.selector {
                    Some(Selector::Version(v)) => format!(
                        "Systems Manager could not find version {v} of {name}. Verify the version and try again."
                    ),
                    Some(Selector::Label(l)) => {
                        format!("Systems Manager could not find label {l} of {name}. Verify the label and try again.")
                    }
                    None => String::new(),
                },
            )),
        }
    }

    pub(crate) async fn get_parameter(&self, input: GetParameterInput, _caller: &Caller) -> Result<Value> {
        let parameter = self.get_one(&input.name, input.with_decryption).await?;
        Ok(json!({"Parameter": parameter}))
    }

    pub(crate) async fn get_parameters(&self, input: GetParametersInput, _caller: &Caller) -> Result<Value> {
        names_count(input.names.len())?;
        let mut found = Vec::new();
        let mut invalid = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for given in &input.names {
            if !seen.insert(given.as_str()) {
                continue;
            }
            match self.get_one(given, input.with_decryption).await {
                Ok(p) => found.push(p),
                Err(e) if e.code().is_some() => invalid.push(given.clone()),
                Err(e) => return Err(e),
            }
        }
        Ok(json!({"Parameters": found, "InvalidParameters": invalid}))
    }

    pub(crate) async fn delete_parameter(&self, input: NameInput, _caller: &Caller) -> Result<Value> {
        let r = self.parse_ref(&input.name)?;
        let Some(name) = self.existing_name(&r).await?.filter(|_| r.selector.is_none()) else {
            return Err(SsmError::not_found(&input.name));
        };
        if !self.store.delete(&name).await? {
            return Err(SsmError::not_found(&input.name));
        }
        tracing::info!(parameter = %name, "parameter deleted");
        Ok(json!({}))
    }

    pub(crate) async fn delete_parameters(&self, input: NamesInput, _caller: &Caller) -> Result<Value> {
        names_count(input.names.len())?;
        let mut deleted = Vec::new();
        let mut invalid = Vec::new();
        for given in &input.names {
            let name = match self.parse_ref(given) {
                Ok(r) if r.selector.is_none() => self.existing_name(&r).await?,
                Ok(_) => None,
                Err(e) if e.code().is_some() => None,
                Err(e) => return Err(e),
            };
            match name {
                Some(n) if self.store.delete(&n).await? => {
                    tracing::info!(parameter = %n, "parameter deleted");
                    deleted.push(given.clone());
                }
                _ => invalid.push(given.clone()),
            }
        }
        Ok(json!({"DeletedParameters": deleted, "InvalidParameters": invalid}))
    }

    pub(crate) async fn get_parameter_history(&self, input: HistoryInput, _caller: &Caller) -> Result<Value> {
        let limit = input.max_results.unwrap_or(50);
        if !(1..=50).contains(&limit) {
            return Err(SsmError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy constraint: Member \
                 must have value between 1 and 50"
            )));
        }
        let after: i64 = match &input.next_token {
            Some(t) => paging::decode_token(t)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| SsmError::refused(Code::InvalidNextToken, "The specified token isn't valid."))?,
            None => 0,
        };
        let r = self.parse_ref(&input.name)?;
        let Some(name) = self.existing_name(&r).await?.filter(|_| r.selector.is_none()) else {
            return Err(SsmError::not_found(&input.name));
        };
        let versions: Vec<VersionRecord> =
            self.store.history(&name).await?.into_iter().filter(|v| v.version > after).collect();
        let (page, token) = paging::finish_page(versions, limit as usize, |v| v.version.to_string());
        let mut parameters = Vec::with_capacity(page.len());
        for v in &page {
            let mut p = json!({
                "Name": v.name,
                "Type": v.kind.as_str(),
                "LastModifiedDate": v.modified_at.as_epoch_seconds(),
                "LastModifiedUser": v.modified_user,
                "Value": self.answer_value(v, input.with_decryption)?,
                "Version": v.version,
                "Labels": v.labels,
                "Tier": v.tier,
                "Policies": [],
                "DataType": v.data_type,
            });
            if let Some(k) = &v.key_id {
                p["KeyId"] = json!(k);
            }
            if let Some(d) = &v.description {
                p["Description"] = json!(d);
            }
            if let Some(a) = &v.allowed_pattern {
                p["AllowedPattern"] = json!(a);
            }
            parameters.push(p);
        }
        let mut out = json!({"Parameters": parameters});
        if let Some(t) = token {
            out["NextToken"] = json!(t);
        }
        Ok(out)
    }

    pub(crate) async fn label_parameter_version(&self, input: LabelInput, _caller: &Caller) -> Result<Value> {
        if input.labels.is_empty() || input.labels.len() > 10 {
            return Err(SsmError::validation(
                "1 validation error detected: Value at 'labels' failed to satisfy constraint: Member must have length \
                 less than or equal to 10 and greater than or equal to 1",
            ));
        }
        let r = self.parse_ref(&input.name)?;
        if r.selector.is_some() {
            return Err(SsmError::validation("A parameter name can't include a version or label selector here."));
        }
        let Some(name) = self.existing_name(&r).await? else {
            return Err(SsmError::not_found(&input.name));
        };
        let (valid, invalid): (Vec<String>, Vec<String>) =
            input.labels.iter().cloned().partition(|l| names::label_ok(l));
        let mut unique = Vec::new();
        for l in valid {
            if !unique.contains(&l) {
                unique.push(l);
            }
        }
        let version = if unique.is_empty() {
            // Nothing to attach: the version named (or the latest) is answered as is.
            match input.parameter_version {
                Some(v) if self.store.version(&name, v).await?.is_none() => return Err(version_not_found(v, &name)),
                Some(v) => v,
                None => self.store.latest(&name).await?.map_or(0, |l| l.version),
            }
        } else {
            match self.store.label(&name, input.parameter_version, &unique).await? {
                LabelOutcome::Labelled { version } => version,
                LabelOutcome::NotFound => return Err(SsmError::not_found(&input.name)),
                LabelOutcome::VersionNotFound => {
                    return Err(version_not_found(input.parameter_version.unwrap_or_default(), &name));
                }
                LabelOutcome::LimitExceeded => {
                    return Err(SsmError::refused(
                        Code::ParameterVersionLabelLimitExceeded,
                        "A parameter version can have maximum 10 labels.Move one or more labels to another version \
                         and try again.",
                    ));
                }
            }
        };
        Ok(json!({"InvalidLabels": invalid, "ParameterVersion": version}))
    }
}

fn version_not_found(version: i64, name: &str) -> SsmError {
    SsmError::refused(
        Code::ParameterVersionNotFound,
        format!("Systems Manager could not find version {version} of {name}. Verify the version and try again."),
    )
}

/// GetParameters and DeleteParameters take 1 to 10 names.
fn names_count(n: usize) -> Result<()> {
    if !(1..=10).contains(&n) {
        return Err(SsmError::validation(format!(
            "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less \
             than or equal to 10 and greater than or equal to 1 ({n} given)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers() {
        assert_eq!(resolve_tier(None, None, 10).unwrap(), "Standard");
        assert_eq!(resolve_tier(None, Some("Advanced"), 10).unwrap(), "Advanced");
        assert!(resolve_tier(Some("Standard"), Some("Advanced"), 10).is_err());
        assert!(resolve_tier(None, None, 4097).is_err());
        assert_eq!(resolve_tier(Some("Advanced"), None, 8192).unwrap(), "Advanced");
        assert!(resolve_tier(Some("Advanced"), None, 8193).is_err());
        assert_eq!(resolve_tier(Some("Intelligent-Tiering"), None, 4097).unwrap(), "Advanced");
        assert_eq!(resolve_tier(Some("Intelligent-Tiering"), None, 4096).unwrap(), "Standard");
        assert!(resolve_tier(Some("Gold"), None, 1).is_err());
    }

    #[test]
    fn patterns_match_whole_values() {
        let p = allowed_pattern(r"\d+").unwrap();
        assert!(p.is_match("123"));
        assert!(!p.is_match("a123"));
        assert!(allowed_pattern(r"^\d+$").unwrap().is_match("7"));
        assert_eq!(allowed_pattern("(").unwrap_err().code(), Some(Code::InvalidAllowedPattern));
    }
}
