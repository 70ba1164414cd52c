//! A registry on a real TCP listener and a small HTTP client for the integration tests.
#![allow(dead_code)]

use base64::Engine;
use bytes::Bytes;
use flotilla_domain::AccountContext;
use flotilla_registry::{Registry, RegistryConfig};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::Path;

pub struct Server {
    pub addr: SocketAddr,
    pub registry: Registry,
    pub auth: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start(dir: &Path, create_on_push: bool) -> Server {
    let config = RegistryConfig { endpoint: "http://127.0.0.1".into(), create_on_push };
    let registry = Registry::open(
        dir,
        &flotilla_db::testing::location(dir),
        AccountContext::default(),
        b"test-key".to_vec(),
        config,
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = registry.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    let password = registry.issue_password();
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}")));
    Server { addr, registry, auth, task }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The code of the first OCI error in the body.
    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap_or("").to_string()
    }
}

impl Server {
    pub async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Answer {
        self.send_as(Some(&self.auth.clone()), method, path, headers, body).await
    }

    pub async fn send_as(
        &self,
        auth: Option<&str>,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let body: Bytes = body.into();
        let mut req = Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = sender.send_request(req.body(Full::new(body)).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, body }
    }

    /// Pushes `data` as a blob of `repo` in one POST; returns its digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let a =
            self.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={digest}"), &[], data.to_vec()).await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        digest
    }

    /// Pushes a config and one layer and an image manifest tagged `tag`; returns the manifest digest.
    pub async fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> String {
        let config = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"n\":{}}}", layer.len());
        let body = self.image_manifest(repo, config.as_bytes(), layer).await;
        let a = self
            .send(
                Method::PUT,
                &format!("/v2/{repo}/manifests/{tag}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                body,
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        a.header("docker-content-digest").to_string()
    }

    /// Pushes blobs and returns the OCI manifest that references them.
    pub async fn image_manifest(&self, repo: &str, config: &[u8], layer: &[u8]) -> String {
        let c = self.push_blob(repo, config).await;
        let l = self.push_blob(repo, layer).await;
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l, "size": layer.len()}],
        })
        .to_string()
    }
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}
