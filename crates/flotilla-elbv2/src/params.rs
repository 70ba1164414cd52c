//! Reading query-protocol parameters: scalars with their ranges, lists
//! (`Name.member.N`) and lists of key/value structures (`Tags.member.N.Key`).

use crate::error::{ElbError, Result};
use flotilla_protocol::QueryRequest;
use std::collections::BTreeMap;

pub(crate) fn required<'a>(q: &'a QueryRequest, name: &str) -> Result<&'a str> {
    q.get(name).ok_or_else(|| ElbError::validation(format!("{name} is required")))
}

/// An integer parameter within `min..=max`, if given.
pub(crate) fn integer(q: &QueryRequest, name: &str, min: i64, max: i64) -> Result<Option<i64>> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ElbError::validation(format!("{name} must be an integer from {min} to {max}, not '{v}'"))),
        },
    }
}

/// A boolean parameter (`true`/`false`), if given.
pub(crate) fn boolean(q: &QueryRequest, name: &str) -> Result<Option<bool>> {
    match q.get(name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(v) => Err(ElbError::validation(format!("{name} must be true or false, not '{v}'"))),
    }
}

/// `Prefix.member.N.Key` / `.Value` pairs in index order. A member without a key is
/// refused; a missing value is empty.
pub(crate) fn pairs(q: &QueryRequest, prefix: &str) -> Result<Vec<(String, String)>> {
    let start = format!("{prefix}.member.");
    let mut members: BTreeMap<u32, (Option<String>, Option<String>)> = BTreeMap::new();
    for (k, v) in q.params() {
        let Some(rest) = k.strip_prefix(&start) else { continue };
        let Some((index, field)) = rest.split_once('.') else { continue };
        let Ok(index) = index.parse::<u32>() else {
            return Err(ElbError::validation(format!("{k} is not a valid member of {prefix}")));
        };
        let entry = members.entry(index).or_default();
        match field {
            "Key" => entry.0 = Some(v.clone()),
            "Value" => entry.1 = Some(v.clone()),
            _ => return Err(ElbError::validation(format!("{k} is not a field of {prefix} members"))),
        }
    }
    members
        .into_iter()
        .map(|(i, (key, value))| {
            let key = key.ok_or_else(|| ElbError::validation(format!("{prefix}.member.{i}.Key is required")))?;
            Ok((key, value.unwrap_or_default()))
        })
        .collect()
}

/// `Marker`/`PageSize` of a Describe call: where to resume, how many (1 to 400).
pub(crate) fn page(q: &QueryRequest) -> Result<(Option<String>, usize)> {
    let size = integer(q, "PageSize", 1, 400)?.unwrap_or(400) as usize;
    let after = match q.get("Marker") {
        Some(m) => Some(
            flotilla_core::paging::decode_token(m)
                .map_err(|_| ElbError::validation("Marker is not one this API returned"))?,
        ),
        None => None,
    };
    Ok((after, size))
}

/// The parameters under one prefix of a nested structure (`Actions.member.2.` →
/// `Type`, `ForwardConfig.TargetGroups.member.1.Weight`, …), read like a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    params: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn of(q: &QueryRequest) -> Self {
        Self { params: q.params().to_vec() }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn required(&self, name: &str, whole: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| ElbError::validation(format!("{whole}.{name} is required")))
    }

    pub(crate) fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ElbError::validation(format!("{name} must be an integer from {min} to {max}, not '{v}'"))),
            },
        }
    }

    /// The structure under `name` (`name.` prefix), possibly empty.
    pub(crate) fn nested(&self, name: &str) -> Params {
        let prefix = format!("{name}.");
        Params {
            params: self
                .params
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.clone())))
                .collect(),
        }
    }

    /// The members of list `name`: structures in index order.
    pub(crate) fn members(&self, name: &str) -> Result<Vec<Params>> {
        let prefix = format!("{name}.member.");
        let mut by_index: BTreeMap<u32, Vec<(String, String)>> = BTreeMap::new();
        for (k, v) in &self.params {
            let Some(rest) = k.strip_prefix(&prefix) else { continue };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            let index: u32 =
                index.parse().map_err(|_| ElbError::validation(format!("{name}: '{k}' is not a list member")))?;
            by_index.entry(index).or_default().push((field.to_string(), v.clone()));
        }
        Ok(by_index.into_values().map(|params| Params { params }).collect())
    }

    /// The string members of list `name`.
    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>> {
        Ok(self.members(name)?.into_iter().filter_map(|m| m.get("").map(str::to_string)).collect())
    }
}
