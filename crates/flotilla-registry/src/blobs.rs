//! Blob files: content-addressed under `registry/blobs/<algorithm>/<ab>/<hex>`, and
//! uploads in progress under `registry/uploads/<id>`.
//!
//! A blob file appears only by `rename` of a fully written, verified and fsynced upload
//! file (and its directory is fsynced after), so a partial or wrong blob is never
//! visible under its digest.

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{RegistryError, Result, io_error};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

const WRITE_BUFFER: usize = 1 << 20;
const READ_CHUNK: usize = 1 << 20;
/// Chunks read ahead of a slow client, per download.
const READ_AHEAD: usize = 4;

/// Why writing a request body to an upload file stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Storage(#[from] RegistryError),
    #[error("reading the request body: {0}")]
    Body(String),
    #[error("the body has {got} bytes, not the {expected} announced")]
    Length { expected: u64, got: u64 },
}

/// The registry's blob and upload files.
#[derive(Debug, Clone)]
pub struct BlobFiles {
    root: PathBuf,
}

impl BlobFiles {
    /// Uses (creating) `root/blobs` and `root/uploads`.
    pub async fn open(root: &Path) -> Result<Self> {
        for dir in [root.join("blobs"), root.join("uploads")] {
            tokio::fs::create_dir_all(&dir).await.map_err(io_error("creating directory", &dir))?;
        }
        Ok(Self { root: root.to_path_buf() })
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root.join("blobs").join(digest.algorithm().name()).join(&hex[..2]).join(hex)
    }

    pub fn upload_path(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    /// Ids of every upload file present.
    pub async fn upload_ids(&self) -> Result<Vec<String>> {
        let dir = self.root.join("uploads");
        let mut entries = tokio::fs::read_dir(&dir).await.map_err(io_error("listing", &dir))?;
        let mut ids = Vec::new();
        while let Some(e) = entries.next_entry().await.map_err(io_error("listing", &dir))? {
            ids.push(e.file_name().to_string_lossy().into_owned());
        }
        Ok(ids)
    }

    /// Creates an empty upload file.
    pub async fn create_upload(&self, id: &str) -> Result<()> {
        let path = self.upload_path(id);
        File::create(&path).await.map_err(io_error("creating upload file", &path))?;
        Ok(())
    }

    /// Removes an upload file (absent is fine).
    pub async fn remove_upload(&self, id: &str) -> Result<()> {
        let path = self.upload_path(id);
        match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("removing upload file", &path)(e)),
            _ => Ok(()),
        }
    }

    /// Appends `body` to upload `id` at `offset` (cutting off anything after it, such
    /// as a torn write before a crash), hashing the bytes into `hasher` when given,
    /// and fsyncs. Returns the number of bytes written. On error the file is cut back
    /// to `offset`.
    pub async fn append<S, E>(
        &self,
        id: &str,
        offset: u64,
        body: S,
        hasher: Option<&mut Hasher>,
        limit: Option<u64>,
    ) -> std::result::Result<u64, WriteError>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = self.upload_path(id);
        let mut file =
            OpenOptions::new().write(true).open(&path).await.map_err(io_error("opening upload file", &path))?;
        file.set_len(offset).await.map_err(io_error("truncating upload file", &path))?;
        file.seek(SeekFrom::Start(offset)).await.map_err(io_error("seeking in upload file", &path))?;
        let result = write_all(&path, file, body, hasher, limit).await;
        if result.is_err()
            && let Ok(f) = OpenOptions::new().write(true).open(&path).await
        {
            let _ = f.set_len(offset).await;
        }
        result
    }

    /// The digest of an upload file's content.
    pub async fn hash_upload(&self, id: &str, algorithm: Algorithm) -> Result<(Digest, u64)> {
        let path = self.upload_path(id);
        let mut file = File::open(&path).await.map_err(io_error("opening upload file", &path))?;
        let mut hasher = Hasher::new(algorithm);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut total = 0u64;
        loop {
            let n = file.read(&mut buf).await.map_err(io_error("reading upload file", &path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        Ok((hasher.finish(), total))
    }

    /// Moves a verified, fsynced upload file to its blob path and fsyncs the directory.
    pub async fn promote(&self, id: &str, digest: &Digest) -> Result<()> {
        let from = self.upload_path(id);
        let to = self.blob_path(digest);
        let dir = to.parent().map(Path::to_path_buf).unwrap_or_default();
        tokio::fs::create_dir_all(&dir).await.map_err(io_error("creating blob directory", &dir))?;
        tokio::fs::rename(&from, &to).await.map_err(io_error("moving upload into place as blob", &to))?;
        let d = File::open(&dir).await.map_err(io_error("opening blob directory", &dir))?;
        d.sync_all().await.map_err(io_error("syncing blob directory", &dir))?;
        Ok(())
    }

    pub async fn remove_blob(&self, digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("removing blob file", &path)(e)),
            _ => Ok(()),
        }
    }

    /// A stream of `len` bytes of a blob from `start`. One blocking thread reads the
    /// file ahead of the client by a few chunks (bounded, so memory stays small).
    pub async fn read_blob(
        &self,
        digest: &Digest,
        start: u64,
        len: u64,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
        let path = self.blob_path(digest);
        let file = File::open(&path).await.map_err(io_error("opening blob file", &path))?;
        let mut file = file.into_std().await;
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Seek};
            if let Err(e) = file.seek(SeekFrom::Start(start)) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            let mut left = len;
            while left > 0 {
                let mut buf = vec![0u8; READ_CHUNK.min(left as usize)];
                let item = match file.read(&mut buf) {
                    Ok(0) => {
                        Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "blob file shorter than recorded"))
                    }
                    Ok(n) => {
                        buf.truncate(n);
                        left -= n as u64;
                        Ok(Bytes::from(buf))
                    }
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                if tx.blocking_send(item).is_err() || failed {
                    return;
                }
            }
        });
        Ok(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
    }

    /// Reads a whole blob (for small blobs such as an image config).
    pub async fn read_small(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        tokio::fs::read(&path).await.map_err(io_error("reading blob file", &path))
    }
}

async fn write_all<S, E>(
    path: &Path,
    file: File,
    mut body: S,
    mut hasher: Option<&mut Hasher>,
    limit: Option<u64>,
) -> std::result::Result<u64, WriteError>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
        written += chunk.len() as u64;
        if let Some(expected) = limit.filter(|l| written > *l) {
            return Err(WriteError::Length { expected, got: written });
        }
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&chunk);
        }
        out.write_all(&chunk).await.map_err(io_error("writing upload file", path))?;
    }
    if let Some(expected) = limit.filter(|l| written != *l) {
        return Err(WriteError::Length { expected, got: written });
    }
    out.flush().await.map_err(io_error("writing upload file", path))?;
    out.get_ref().sync_all().await.map_err(io_error("syncing upload file", path))?;
    Ok(written)
}
