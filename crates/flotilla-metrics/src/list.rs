//! ListMetrics: the metrics published to in the last two weeks (or three hours, with
//! `RecentlyActive: PT3H`), filtered by namespace, name and dimensions (a metric
//! matches a dimension filter when it has that dimension, of that value if one is
//! given; it may have others), 500 a page in (namespace, name, dimensions) order.
//! `IncludeLinkedAccounts` is ignored; an `OwningAccount` other than this one owns nothing.

use crate::MetricsService;
use crate::error::{MetricsError, Result};
use crate::model::{
    DimensionOut, MAX_FILTER_NAME, MAX_FILTER_VALUE, check_filter_part, check_metric_name, check_namespace,
    dimensions_out, parse_dims_key, required,
};
use crate::store::{ListFilter, MetricKey};
use flotilla_core::paging;
use serde::{Deserialize, Serialize};

const PAGE: usize = 500;
const HOUR_MS: i64 = 3_600_000;
/// Metrics not published to for this long are not listed.
const LISTED_FOR_MS: i64 = 14 * 24 * HOUR_MS;
const RECENT_MS: i64 = 3 * HOUR_MS;
const MAX_FILTERS: usize = 10;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FilterIn {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
pub(crate) enum RecentlyActive {
    #[serde(rename = "PT3H")]
    Pt3h,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<FilterIn>,
    next_token: Option<String>,
    recently_active: Option<RecentlyActive>,
    #[allow(dead_code)]
    include_linked_accounts: Option<bool>,
    owning_account: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricOut {
    namespace: String,
    metric_name: String,
    dimensions: Vec<DimensionOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListOutput {
    metrics: Vec<MetricOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn bad_token() -> MetricsError {
    MetricsError::InvalidValue("The value for parameter NextToken is not valid.".into())
}

/// A page's last metric as a token, and back.
fn write_token(key: &MetricKey) -> String {
    let parts = serde_json::Value::from(vec![key.namespace.as_str(), key.metric_name.as_str(), key.dims.as_str()]);
    paging::encode_token(&parts.to_string())
}

fn read_token(token: &str) -> Result<MetricKey> {
    let text = paging::decode_token(token).map_err(|_| bad_token())?;
    let (namespace, metric_name, dims): (String, String, String) =
        serde_json::from_str(&text).map_err(|_| bad_token())?;
    Ok(MetricKey { namespace, metric_name, dims })
}

pub(crate) async fn list(svc: &MetricsService, input: ListInput) -> Result<ListOutput> {
    if let Some(namespace) = &input.namespace {
        check_namespace(namespace, "Namespace")?;
    }
    if let Some(name) = &input.metric_name {
        check_metric_name(name, "MetricName")?;
    }
    if input.dimensions.len() > MAX_FILTERS {
        return Err(MetricsError::InvalidValue(format!(
            "The collection Dimensions must not have a size greater than {MAX_FILTERS}."
        )));
    }
    let mut dimensions = Vec::with_capacity(input.dimensions.len());
    for (i, f) in input.dimensions.iter().enumerate() {
        let at = format!("Dimensions.member.{}", i + 1);
        let name = required(f.name.clone(), &format!("{at}.Name"))?;
        check_filter_part(&name, MAX_FILTER_NAME, &format!("{at}.Name"))?;
        if let Some(value) = &f.value {
            check_filter_part(value, MAX_FILTER_VALUE, &format!("{at}.Value"))?;
        }
        dimensions.push((name, f.value.clone()));
    }
    let after = input.next_token.as_deref().map(read_token).transpose()?;
    if input.owning_account.as_deref().is_some_and(|a| a != svc.account.account_id) {
        return Ok(ListOutput { metrics: Vec::new(), next_token: None });
    }
    let now = svc.store.now_ms().await?;
    let filter = ListFilter {
        namespace: input.namespace,
        metric_name: input.metric_name,
        dimensions,
        active_since: now - if input.recently_active.is_some() { RECENT_MS } else { LISTED_FOR_MS },
    };
    let keys = svc.store.list(&filter, after.as_ref(), PAGE as i64 + 1).await?;
    let (keys, next_token) = if keys.len() > PAGE {
        let page: Vec<MetricKey> = keys.into_iter().take(PAGE).collect();
        let token = page.last().map(write_token);
        (page, token)
    } else {
        (keys, None)
    };
    let metrics = keys
        .into_iter()
        .map(|k| {
            Ok(MetricOut {
                dimensions: dimensions_out(parse_dims_key(&k.dims)?),
                namespace: k.namespace,
                metric_name: k.metric_name,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ListOutput { metrics, next_token })
}
