//! A DynamoDB export to S3 fetched into a local folder, so
//! [`ExportFolder`](dynastream_store::ExportFolder) reads it: the two manifests, then every data
//! file they name. Files already in the folder with the size S3 reports are kept, so a fetch
//! that stopped continues where it stopped.

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use dynastream_store::StoreError;

/// Where an export is: `s3://bucket/prefix/AWSDynamoDB/<ExportId>` (the folder holding
/// `manifest-summary.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3ExportUrl {
    /// The bucket.
    pub bucket: String,
    /// The key prefix of the export's folder, without a trailing `/`.
    pub prefix: String,
}

impl S3ExportUrl {
    /// Reads `s3://bucket/prefix`; `None` when `url` is not an `s3://` URL with a bucket.
    ///
    /// ```
    /// use dynastream_dynamodb::S3ExportUrl;
    /// let u = S3ExportUrl::parse("s3://backups/app/AWSDynamoDB/0176-abc/").unwrap();
    /// assert_eq!((u.bucket.as_str(), u.prefix.as_str()), ("backups", "app/AWSDynamoDB/0176-abc"));
    /// assert!(S3ExportUrl::parse("/tmp/export").is_none());
    /// ```
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(S3ExportUrl {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }
}

fn s3_error<E: std::error::Error + Send + Sync + 'static>(
    what: String,
) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Backend {
        operation: "fetching the export from S3",
        message: format!("{what}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)),
        source: Some(Box::new(e)),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Backend {
        operation: "fetching the export from S3",
        message: format!("{}: {e}", path.display()),
        source: Some(Box::new(e)),
    }
}

/// Fetches the export at `url` into `dir` (created if needed), laid out as in the bucket from
/// the export's folder down: `dir/manifest-summary.json`, `dir/manifest-files.json`,
/// `dir/data/...`. `progress` gets (files fetched or kept, files in all). Returns `dir`.
///
/// Errors: the summary manifest is missing (not an export's folder), an object cannot be read,
/// the disk is full; each names the object or file.
pub async fn fetch_export(
    client: &Client,
    url: &S3ExportUrl,
    dir: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<PathBuf, StoreError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let key = |name: &str| {
        if url.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", url.prefix)
        }
    };
    let summary_key = key("manifest-summary.json");
    let summary = get(client, &url.bucket, &summary_key).await.map_err(|e| match e {
        StoreError::Backend { message, source, .. } => StoreError::Backend {
            operation: "fetching the export from S3",
            message: format!("{message} (s3://{}/{} should be the folder of one export: .../AWSDynamoDB/<ExportId>)", url.bucket, url.prefix),
            source,
        },
        other => other,
    })?;
    let summary_path = dir.join("manifest-summary.json");
    std::fs::write(&summary_path, &summary).map_err(io(&summary_path))?;
    let parsed: serde_json::Value =
        serde_json::from_slice(&summary).map_err(|e| StoreError::Backend {
            operation: "fetching the export from S3",
            message: format!("s3://{}/{summary_key} is not JSON: {e}", url.bucket),
            source: None,
        })?;
    let files_key = parsed
        .get("manifestFilesS3Key")
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| key("manifest-files.json"), str::to_string);
    let manifest = get(client, &url.bucket, &files_key).await?;
    let manifest_path = dir.join("manifest-files.json");
    std::fs::write(&manifest_path, &manifest).map_err(io(&manifest_path))?;
    let data_keys: Vec<String> = String::from_utf8_lossy(&manifest)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("dataFileS3Key")?.as_str().map(str::to_string))
        .collect();
    let total = data_keys.len();
    progress(0, total);
    for (i, data_key) in data_keys.iter().enumerate() {
        // The path under the export's folder (`data/<file>`), as ExportFolder resolves it.
        let tail = data_key
            .split("/AWSDynamoDB/")
            .nth(1)
            .and_then(|t| t.split_once('/').map(|(_, rest)| rest.to_string()))
            .unwrap_or_else(|| format!("data/{}", data_key.rsplit('/').next().unwrap_or(data_key)));
        let path = dir.join(&tail);
        let head = client
            .head_object()
            .bucket(&url.bucket)
            .key(data_key)
            .send()
            .await
            .map_err(s3_error(format!("s3://{}/{data_key}", url.bucket)))?;
        let size = head.content_length().and_then(|n| u64::try_from(n).ok());
        let kept = std::fs::metadata(&path).ok().map(|m| m.len());
        if size.is_none() || kept != size {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            let partial = path.with_extension("partial");
            let mut out = std::fs::File::create(&partial).map_err(io(&partial))?;
            let mut body = client
                .get_object()
                .bucket(&url.bucket)
                .key(data_key)
                .send()
                .await
                .map_err(s3_error(format!("s3://{}/{data_key}", url.bucket)))?
                .body;
            while let Some(chunk) = body
                .try_next()
                .await
                .map_err(s3_error(format!("s3://{}/{data_key}", url.bucket)))?
            {
                std::io::Write::write_all(&mut out, &chunk).map_err(io(&partial))?;
            }
            std::fs::rename(&partial, &path).map_err(io(&path))?;
        }
        progress(i + 1, total);
    }
    Ok(dir.to_path_buf())
}

async fn get(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, StoreError> {
    let what = format!("s3://{bucket}/{key}");
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(s3_error(what.clone()))?;
    let bytes = out.body.collect().await.map_err(s3_error(what))?;
    Ok(bytes.into_bytes().to_vec())
}

/// An S3 client with the standard AWS configuration; with `endpoint` (a local S3-compatible
/// server such as moto's), path-style addressing to it.
pub async fn s3_client(endpoint: Option<&str>) -> Client {
    let config = crate::sdk_config(endpoint).await;
    let mut builder = aws_sdk_s3::config::Builder::from(&config);
    if endpoint.is_some() {
        builder = builder.force_path_style(true);
    }
    Client::from_conf(builder.build())
}
