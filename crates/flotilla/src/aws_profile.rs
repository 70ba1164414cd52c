//! Writes the `flotilla` profile into the AWS CLI's shared config and credentials
//! files, leaving every other profile as it was.

use crate::credentials::{RootCredentials, write_private};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub const PROFILE: &str = "flotilla";

/// Where the AWS CLI keeps its files: `AWS_CONFIG_FILE` and
/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and `~/.aws/credentials`.
pub fn default_paths() -> Result<(PathBuf, PathBuf)> {
    let home = std::env::var_os("HOME").map(PathBuf::from).context("HOME is not set")?;
    let config = std::env::var_os("AWS_CONFIG_FILE").map(PathBuf::from).unwrap_or_else(|| home.join(".aws/config"));
    let credentials = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/credentials"));
    Ok((config, credentials))
}

/// Writes (or replaces) the `flotilla` profile.
pub fn write_profile(
    config: &Path,
    credentials: &Path,
    endpoint: &str,
    region: &str,
    creds: &RootCredentials,
) -> Result<()> {
    let config_body = format!("region = {region}\nendpoint_url = {endpoint}\noutput = json\n");
    update_section(config, &format!("profile {PROFILE}"), &config_body)?;
    let creds_body =
        format!("aws_access_key_id = {}\naws_secret_access_key = {}\n", creds.access_key_id, creds.secret_access_key);
    update_section(credentials, PROFILE, &creds_body)
}

fn update_section(path: &Path, section: &str, body: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let existing = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let updated = replace_section(&existing, section, body);
    write_private(path, updated.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// Reads the key pair of `profile` from a shared credentials file.
pub fn read_credentials(path: &Path, profile: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let header = format!("[{profile}]");
    let (mut id, mut secret, mut inside) = (None, None, false);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == header;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    Some((id?, secret?))
}

/// Replaces the body of `[section]` in an INI text, appending the section if absent.
fn replace_section(text: &str, section: &str, body: &str) -> String {
    let header = format!("[{section}]");
    let mut out = String::new();
    let mut skipping = false;
    let mut written = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            if trimmed == header {
                skipping = true;
                written = true;
                out.push_str(&header);
                out.push('\n');
                out.push_str(body);
                continue;
            }
            skipping = false;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !written {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&header);
        out.push('\n');
        out.push_str(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_its_section() {
        let before = "[default]\nregion = eu-west-1\n\n[profile flotilla]\nregion = old\n[profile other]\nx = 1\n";
        let after = replace_section(before, "profile flotilla", "region = us-east-1\n");
        assert_eq!(
            after,
            "[default]\nregion = eu-west-1\n\n[profile flotilla]\nregion = us-east-1\n[profile other]\nx = 1\n"
        );
        let appended = replace_section("[default]\nregion = x\n", "flotilla", "a = 1\n");
        assert_eq!(appended, "[default]\nregion = x\n\n[flotilla]\na = 1\n");
        assert_eq!(replace_section("", "flotilla", "a = 1\n"), "[flotilla]\na = 1\n");
    }

    #[test]
    fn reads_back_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let (config, creds) = (dir.path().join("config"), dir.path().join("credentials"));
        let root = RootCredentials { access_key_id: "AKIAX".into(), secret_access_key: "s3cr3t".into() };
        write_profile(&config, &creds, "http://127.0.0.1:1", "us-east-1", &root).unwrap();
        assert_eq!(read_credentials(&creds, PROFILE), Some(("AKIAX".into(), "s3cr3t".into())));
        assert_eq!(read_credentials(&creds, "other"), None);
    }
}
