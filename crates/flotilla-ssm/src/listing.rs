//! GetParametersByPath and DescribeParameters, with their filters and pages.

use crate::SsmService;
use crate::error::{Code, Result, SsmError};
use crate::names;
use crate::store::{Listed, ParameterType};
use flotilla_core::paging;
use flotilla_protocol::Caller;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct StringFilter {
    key: String,
    option: Option<String>,
    values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LegacyFilter {
    key: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ByPathInput {
    path: String,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    parameter_filters: Vec<StringFilter>,
    #[serde(default)]
    with_decryption: bool,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    #[serde(default)]
    filters: Vec<LegacyFilter>,
    #[serde(default)]
    parameter_filters: Vec<StringFilter>,
    max_results: Option<i64>,
    next_token: Option<String>,
    #[serde(default)]
    shared: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Equals,
    BeginsWith,
    Contains,
}

impl Compare {
    fn hit(self, field: &str, wanted: &str) -> bool {
        match self {
            Compare::Equals => field == wanted,
            Compare::BeginsWith => field.starts_with(wanted),
            Compare::Contains => field.contains(wanted),
        }
    }
}

/// What a filter tests.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Name,
    Type,
    KeyId,
    Tier,
    DataType,
    Label,
    /// Under the paths given, recursively or one level down.
    Path {
        recursive: bool,
    },
    Tag(String),
}

#[derive(Debug, Clone)]
struct Filter {
    field: Field,
    compare: Compare,
    values: Vec<String>,
}

/// Which operation filters are read for: their keys and options differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum For {
    ByPath,
    Describe,
}

fn invalid_key(key: &str, valid: &str) -> SsmError {
    SsmError::refused(
        Code::InvalidFilterKey,
        format!("The following filter key is not valid: {key}. Valid filter keys include: [{valid}]."),
    )
}

fn invalid_option(option: &str, key: &str, valid: &str) -> SsmError {
    SsmError::refused(
        Code::InvalidFilterOption,
        format!("The following filter option is not valid: {option}. Valid options for {key} include: [{valid}]."),
    )
}

fn invalid_value(value: &str, key: &str) -> SsmError {
    SsmError::refused(Code::InvalidFilterValue, format!("The following filter value is not valid: {value} ({key})."))
}

fn read_filter(f: &StringFilter, context: For) -> Result<Filter> {
    let key = f.key.as_str();
    let field = match (key, context) {
        ("Type", _) => Field::Type,
        ("KeyId", _) => Field::KeyId,
        ("Label", _) => Field::Label,
        ("Name", For::Describe) => Field::Name,
        ("Tier", For::Describe) => Field::Tier,
        ("DataType", For::Describe) => Field::DataType,
        ("Path", For::Describe) => Field::Path { recursive: false },
        (k, For::Describe) if k.starts_with("tag:") && k.len() > 4 => Field::Tag(k[4..].to_string()),
        (k, For::ByPath) => return Err(invalid_key(k, "Type, KeyId, Label")),
        (k, For::Describe) => return Err(invalid_key(k, "Name, Type, KeyId, Path, Label, Tier, DataType, tag:<key>")),
    };
    let option = f.option.as_deref();
    let (field, compare) = match (&field, option) {
        (Field::Path { .. }, None | Some("OneLevel")) => (Field::Path { recursive: false }, Compare::Equals),
        (Field::Path { .. }, Some("Recursive")) => (Field::Path { recursive: true }, Compare::Equals),
        (Field::Path { .. }, Some(o)) => return Err(invalid_option(o, key, "Recursive, OneLevel")),
        (Field::Label, None | Some("Equals")) => (field, Compare::Equals),
        (Field::Label, Some(o)) => return Err(invalid_option(o, key, "Equals")),
        (_, None | Some("Equals")) => (field, Compare::Equals),
        (_, Some("BeginsWith")) => (field, Compare::BeginsWith),
        (Field::Name, Some("Contains")) => (field, Compare::Contains),
        (Field::Name, Some(o)) => return Err(invalid_option(o, key, "Equals, BeginsWith, Contains")),
        (_, Some(o)) => return Err(invalid_option(o, key, "Equals, BeginsWith")),
    };
    let values = f.values.clone().unwrap_or_default();
    if values.len() > 50 || values.iter().any(|v| v.is_empty() || v.len() > 1024) {
        return Err(invalid_value(&values.join(","), key));
    }
    if values.is_empty() && !matches!(field, Field::Tag(_)) {
        return Err(SsmError::refused(
            Code::InvalidFilterValue,
            format!("The following filter values are missing : null for filter key {key}."),
        ));
    }
    match &field {
        Field::Type => {
            if let Some(bad) = values.iter().find(|v| compare == Compare::Equals && ParameterType::parse(v).is_none()) {
                return Err(invalid_value(bad, key));
            }
        }
        Field::Tier => {
            let tiers = ["Standard", "Advanced", "Intelligent-Tiering"];
            if let Some(bad) = values.iter().find(|v| compare == Compare::Equals && !tiers.contains(&v.as_str())) {
                return Err(invalid_value(bad, key));
            }
        }
        Field::Path { .. } => {
            for v in &values {
                names::path_prefix(v).map_err(|_| invalid_value(v, key))?;
            }
        }
        _ => {}
    }
    let values = match field {
        // Paths compare as the prefixes their parameters' names start with.
        Field::Path { .. } => values.iter().map(|v| names::path_prefix(v)).collect::<Result<_>>()?,
        _ => values,
    };
    Ok(Filter { field, compare, values })
}

fn read_legacy(f: &LegacyFilter) -> Result<Filter> {
    let field = match f.key.as_str() {
        "Name" => Field::Name,
        "Type" => Field::Type,
        "KeyId" => Field::KeyId,
        other => return Err(invalid_key(other, "Name, Type, KeyId")),
    };
    if f.values.is_empty() || f.values.len() > 50 {
        return Err(invalid_value(&f.values.join(","), &f.key));
    }
    let compare = if field == Field::Name { Compare::BeginsWith } else { Compare::Equals };
    Ok(Filter { field, compare, values: f.values.clone() })
}

fn matches(filter: &Filter, p: &Listed) -> bool {
    let latest = &p.latest;
    let any = |field: &str| filter.values.iter().any(|v| filter.compare.hit(field, v));
    match &filter.field {
        Field::Name => {
            // Names are compared with or without their leading slash, as AWS does.
            let bare = latest.name.strip_prefix('/').unwrap_or(&latest.name);
            filter.values.iter().any(|v| {
                let wanted = v.strip_prefix('/').unwrap_or(v);
                filter.compare.hit(bare, wanted)
            })
        }
        Field::Type => any(latest.kind.as_str()),
        Field::KeyId => latest.key_id.as_deref().is_some_and(any),
        Field::Tier => any(&latest.tier),
        Field::DataType => any(&latest.data_type),
        Field::Label => p.labels.keys().any(|l| any(l)),
        Field::Path { recursive } => {
            filter.values.iter().any(|prefix| names::under_path(&latest.name, prefix, *recursive))
        }
        Field::Tag(key) => p.tags.iter().any(|t| &t.key == key && (filter.values.is_empty() || any(&t.value))),
    }
}

fn read_limit(given: Option<i64>, max: i64) -> Result<usize> {
    let limit = given.unwrap_or(max);
    if !(1..=max).contains(&limit) {
        return Err(SsmError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy constraint: Member must \
             have value less than or equal to {max} and greater than or equal to 1"
        )));
    }
    Ok(limit as usize)
}

fn read_token(token: Option<&str>) -> Result<Option<String>> {
    token
        .map(|t| {
            paging::decode_token(t)
                .map_err(|_| SsmError::refused(Code::InvalidNextToken, "The specified token isn't valid."))
        })
        .transpose()
}

impl SsmService {
    pub(crate) async fn get_parameters_by_path(&self, input: ByPathInput, _caller: &Caller) -> Result<Value> {
        let prefix = names::path_prefix(&input.path)?;
        let limit = read_limit(input.max_results, 10)?;
        let after = read_token(input.next_token.as_deref())?;
        let filters: Vec<Filter> =
            input.parameter_filters.iter().map(|f| read_filter(f, For::ByPath)).collect::<Result<_>>()?;
        let labels: Vec<&Filter> = filters.iter().filter(|f| f.field == Field::Label).collect();
        let chosen: Vec<Listed> = self
            .store
            .list(Some(&prefix))
            .await?
            .into_iter()
            .filter(|p| names::under_path(&p.latest.name, &prefix, input.recursive))
            .filter(|p| after.as_ref().is_none_or(|a| p.latest.name.as_str() > a.as_str()))
            .filter(|p| filters.iter().all(|f| matches(f, p)))
            .take(limit + 1)
            .collect();
        let (page, token) = paging::finish_page(chosen, limit, |p| p.latest.name.clone());
        let mut parameters = Vec::with_capacity(page.len());
        for p in &page {
            // A Label filter answers with the version carrying the label.
            let labelled = labels
                .iter()
                .flat_map(|f| f.values.iter())
                .find_map(|l| p.labels.get(l).copied())
                .filter(|v| *v != p.latest.version);
            let version = match labelled {
                Some(v) => match self.store.version(&p.latest.name, v).await? {
                    Some(record) => record,
                    None => continue,
                },
                None => p.latest.clone(),
            };
            parameters.push(self.parameter_shape(&version, None, input.with_decryption)?);
        }
        let mut out = json!({"Parameters": parameters});
        if let Some(t) = token {
            out["NextToken"] = json!(t);
        }
        Ok(out)
    }

    pub(crate) async fn describe_parameters(&self, input: DescribeInput, _caller: &Caller) -> Result<Value> {
        if !input.filters.is_empty() && !input.parameter_filters.is_empty() {
            return Err(SsmError::validation("You can use either Filters or ParameterFilters in a single request."));
        }
        let limit = read_limit(input.max_results, 50)?;
        let after = read_token(input.next_token.as_deref())?;
        let filters: Vec<Filter> = if input.filters.is_empty() {
            input.parameter_filters.iter().map(|f| read_filter(f, For::Describe)).collect::<Result<_>>()?
        } else {
            input.filters.iter().map(read_legacy).collect::<Result<_>>()?
        };
        if input.shared {
            // No other account shares parameters with this one.
            return Ok(json!({"Parameters": []}));
        }
        let chosen: Vec<Listed> = self
            .store
            .list(None)
            .await?
            .into_iter()
            .filter(|p| after.as_ref().is_none_or(|a| p.latest.name.as_str() > a.as_str()))
            .filter(|p| filters.iter().all(|f| matches(f, p)))
            .take(limit + 1)
            .collect();
        let (page, token) = paging::finish_page(chosen, limit, |p| p.latest.name.clone());
        let parameters: Vec<Value> = page
            .iter()
            .map(|p| {
                let v = &p.latest;
                let mut m = json!({
                    "Name": v.name,
                    "ARN": self.arn(&v.name),
                    "Type": v.kind.as_str(),
                    "LastModifiedDate": v.modified_at.as_epoch_seconds(),
                    "LastModifiedUser": v.modified_user,
                    "Version": v.version,
                    "Tier": v.tier,
                    "Policies": [],
                    "DataType": v.data_type,
                });
                if let Some(k) = &v.key_id {
                    m["KeyId"] = json!(k);
                }
                if let Some(d) = &v.description {
                    m["Description"] = json!(d);
                }
                if let Some(a) = &v.allowed_pattern {
                    m["AllowedPattern"] = json!(a);
                }
                m
            })
            .collect();
        let mut out = json!({"Parameters": parameters});
        if let Some(t) = token {
            out["NextToken"] = json!(t);
        }
        Ok(out)
    }
}
