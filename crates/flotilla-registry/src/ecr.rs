//! The ECR API (AWS JSON 1.1, target prefix `AmazonEC2ContainerRegistry_V20150921`).

use crate::State;
use crate::store::RepositoryRecord;
use async_trait::async_trait;
use bytes::Bytes;
use flotilla_domain::Timestamp;
use flotilla_protocol::{AwsError, Caller, JsonService};
use std::sync::Arc;

/// A fresh repository with ECR's defaults.
pub(crate) fn new_repository_record(name: &str) -> RepositoryRecord {
    RepositoryRecord {
        name: name.to_string(),
        created_at: Timestamp::now(),
        tag_mutability: "MUTABLE".into(),
        scan_on_push: false,
        encryption_type: "AES256".into(),
        tags: Vec::new(),
        repository_policy: None,
        lifecycle_policy: None,
        lifecycle_evaluated_at: None,
        version: 1,
    }
}

/// The ECR JSON service.
pub struct EcrService {
    state: Arc<State>,
}

impl EcrService {
    pub(crate) fn new(state: Arc<State>) -> Self {
        Self { state }
    }
}

#[async_trait]
impl JsonService for EcrService {
    fn target_prefix(&self) -> &'static str {
        "AmazonEC2ContainerRegistry_V20150921"
    }

    fn signing_name(&self) -> &'static str {
        "ecr"
    }

    async fn call(
        &self,
        operation: &str,
        _body: Bytes,
        _caller: &Caller,
    ) -> Result<axum::response::Response, AwsError> {
        let _ = &self.state;
        Err(AwsError::client("UnknownOperationException", format!("unknown operation {operation}")))
    }
}
