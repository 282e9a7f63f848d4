//! A DynamoDB export to S3 in a local folder, read as a [`TableScan`]: what
//! `ExportTableToPointInTime` writes with `ExportFormat` `DYNAMODB_JSON` — a summary manifest,
//! a manifest of data files, and gzipped data files of one `{"Item": {...}}` per line (as AWS
//! documents the export output format). It costs the table no read capacity.
//!
//! ```text
//! <folder>/manifest-summary.json     {"exportArn", "tableArn", "exportTime", "itemCount",
//!                                     "outputFormat": "DYNAMODB_JSON", "manifestFilesS3Key", ...}
//! <folder>/manifest-files.json       one {"itemCount", "dataFileS3Key", ...} per line
//! <folder>/data/<name>.json.gz       one {"Item": {"PK": {"S": "..."}, ...}} per line
//! ```

use std::collections::HashMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::value::RawValue;

use crate::scan::{ScanPage, ScanRequest, TableInfo, TableScan};
use crate::{BoxFuture, Cursor, RawBody, RawItem, StoreError};

/// One data file of an export.
#[derive(Debug, Clone)]
struct DataFile {
    path: PathBuf,
    items: Option<u64>,
}

/// An open data file, kept between pages of its segment so a page continues where the last
/// one stopped instead of reading the file from its start.
struct Open {
    file: usize,
    line: u64,
    reader: Box<dyn std::io::BufRead + Send>,
}

/// A DynamoDB export (`DYNAMODB_JSON`) in a local folder: the export's own folder (the one
/// holding `manifest-summary.json`, `AWSDynamoDB/<ExportId>` in the bucket), or a folder above
/// it holding exactly one export. Segments take the data files in turn (file `i` belongs to
/// segment `i % total_segments`); a page's cursor is [`Cursor::Offset`], the file and the
/// line after the page.
pub struct ExportFolder {
    folder: PathBuf,
    info: TableInfo,
    keys: (String, String),
    files: Vec<DataFile>,
    export_time: Option<String>,
    open: Mutex<HashMap<u32, Open>>,
}

impl std::fmt::Debug for ExportFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportFolder")
            .field("folder", &self.folder)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

fn bad(path: &Path, why: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        operation: "reading the export",
        message: format!("{}: {why}", path.display()),
        source: None,
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Backend {
        operation: "reading the export",
        message: format!("{}: {e}", path.display()),
        source: Some(Box::new(e)),
    }
}

/// The folder holding `manifest-summary.json`: `path` itself, or the one export below it.
fn find_export(path: &Path) -> Result<PathBuf, StoreError> {
    if path.join("manifest-summary.json").is_file() {
        return Ok(path.to_path_buf());
    }
    let mut found = Vec::new();
    let mut stack = vec![(path.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(io(&dir))?;
        for entry in entries {
            let p = entry.map_err(io(&dir))?.path();
            if p.is_dir() && depth < 4 {
                if p.join("manifest-summary.json").is_file() {
                    found.push(p);
                } else {
                    stack.push((p, depth + 1));
                }
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(bad(
            path,
            "no manifest-summary.json here or below (the folder of a DynamoDB export to S3)",
        )),
        _ => {
            found.sort();
            Err(bad(
                path,
                format!(
                    "holds {} exports; name one: {}",
                    found.len(),
                    found
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    }
}

/// Where a manifest's S3 key is in the local copy: the part after `AWSDynamoDB/<ExportId>/`,
/// under the export's folder (else the key's file name under `data/`).
fn local(folder: &Path, key: &str) -> PathBuf {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.iter().position(|p| *p == "AWSDynamoDB") {
        Some(i) if i + 2 <= parts.len() => parts[i + 2..]
            .iter()
            .fold(folder.to_path_buf(), |p, s| p.join(s)),
        _ => folder
            .join("data")
            .join(parts.last().copied().unwrap_or_default()),
    }
}

impl ExportFolder {
    /// Opens the export at or below `path`, for a table with key attributes `pk_attr` and
    /// `sk_attr` (`""`: no sort key; the export does not name them). Reads the manifests and
    /// checks that the data files exist; errors name the file and the problem.
    pub fn open(path: impl AsRef<Path>, pk_attr: &str, sk_attr: &str) -> Result<Self, StoreError> {
        let folder = find_export(path.as_ref())?;
        let summary_path = folder.join("manifest-summary.json");
        let text = std::fs::read_to_string(&summary_path).map_err(io(&summary_path))?;
        let summary: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| bad(&summary_path, format!("not JSON: {e}")))?;
        let field = |name: &str| summary.get(name).and_then(serde_json::Value::as_str);
        if let Some(format) = field("outputFormat").filter(|f| *f != "DYNAMODB_JSON") {
            return Err(bad(
                &summary_path,
                format!("outputFormat is {format}; only DYNAMODB_JSON exports can be read (export again with --export-format DYNAMODB_JSON)"),
            ));
        }
        if field("exportType").is_some_and(|t| t == "INCREMENTAL_EXPORT") {
            return Err(bad(
                &summary_path,
                "an incremental export holds changes, not the table: backfill from a full export",
            ));
        }
        let files_path = match field("manifestFilesS3Key") {
            Some(key) => local(&folder, key),
            None => folder.join("manifest-files.json"),
        };
        let files_path = if files_path.is_file() {
            files_path
        } else {
            folder.join("manifest-files.json")
        };
        let manifest = std::fs::read_to_string(&files_path).map_err(io(&files_path))?;
        let mut files = Vec::new();
        for (n, line) in manifest
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let entry: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| bad(&files_path, format!("line {}: not JSON: {e}", n + 1)))?;
            let key = entry
                .get("dataFileS3Key")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| bad(&files_path, format!("line {}: no dataFileS3Key", n + 1)))?;
            let path = local(&folder, key);
            if !path.is_file() {
                return Err(bad(
                    &path,
                    format!(
                        "named by {} line {}, is missing",
                        files_path.display(),
                        n + 1
                    ),
                ));
            }
            files.push(DataFile {
                path,
                items: entry.get("itemCount").and_then(serde_json::Value::as_u64),
            });
        }
        let table_arn = field("tableArn").map(str::to_string);
        let name = table_arn
            .as_deref()
            .and_then(|a| a.split(":table/").nth(1))
            .map(|n| n.split('/').next().unwrap_or(n).to_string())
            .unwrap_or_else(|| folder.display().to_string());
        let info = TableInfo {
            name,
            arn: table_arn,
            latest_stream_arn: None,
            key_attributes: Some((pk_attr.to_string(), sk_attr.to_string())),
            item_count: summary.get("itemCount").and_then(serde_json::Value::as_u64),
            export: field("exportArn")
                .or(field("exportTime"))
                .map(str::to_string),
        };
        Ok(ExportFolder {
            folder,
            info,
            keys: (pk_attr.to_string(), sk_attr.to_string()),
            files,
            export_time: field("exportTime").map(str::to_string),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// The export's folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The time the export is a snapshot of (`exportTime`, RFC 3339), when the manifest says.
    pub fn export_time(&self) -> Option<&str> {
        self.export_time.as_deref()
    }

    /// How many data files it has.
    pub fn data_files(&self) -> usize {
        self.files.len()
    }

    fn reader(&self, file: usize) -> Result<Box<dyn std::io::BufRead + Send>, StoreError> {
        let path = &self.files[file].path;
        let f = std::fs::File::open(path).map_err(io(path))?;
        let gz = path.extension().is_some_and(|e| e == "gz");
        Ok(if gz {
            Box::new(std::io::BufReader::with_capacity(
                256 * 1024,
                flate2::read::MultiGzDecoder::new(f),
            ))
        } else {
            Box::new(std::io::BufReader::with_capacity(256 * 1024, f))
        })
    }

    /// One line's item, or why it is not one.
    fn item(&self, file: usize, line_no: u64, line: &str) -> Result<RawItem, StoreError> {
        let path = &self.files[file].path;
        let at = |why: String| bad(path, format!("line {line_no}: {why}"));
        #[derive(serde::Deserialize)]
        struct Line<'a> {
            #[serde(rename = "Item", borrow)]
            item: &'a RawValue,
        }
        let parsed: Line<'_> = serde_json::from_str(line)
            .map_err(|e| at(format!("not an export line ({{\"Item\": ...}}): {e}")))?;
        let attrs: HashMap<&str, &RawValue> = serde_json::from_str(parsed.item.get())
            .map_err(|e| at(format!("Item is not a map: {e}")))?;
        let key = |attr: &str| -> Result<String, StoreError> {
            if attr.is_empty() {
                return Ok(String::new());
            }
            let v = attrs
                .get(attr)
                .ok_or_else(|| at(format!("the item has no key attribute {attr}")))?;
            let value: serde_json::Value =
                serde_json::from_str(v.get()).map_err(|e| at(e.to_string()))?;
            let value =
                crate::from_dynamodb_json(&value).map_err(|e| at(format!("{attr}: {e}")))?;
            crate::key_text(&value)
                .ok_or_else(|| at(format!("key attribute {attr} is not an S, N or B")))
        };
        Ok(RawItem {
            pk: key(&self.keys.0)?,
            sk: key(&self.keys.1)?,
            body: RawBody::DynamoDbJson(parsed.item.get().to_string()),
        })
    }

    fn page(&self, r: &ScanRequest) -> Result<ScanPage, StoreError> {
        let total = r.total_segments.max(1) as usize;
        let mine: Vec<usize> = (0..self.files.len())
            .filter(|i| i % total == r.segment as usize)
            .collect();
        let (mut file, mut line) = match &r.start {
            None => match mine.first() {
                Some(&f) => (f, 0),
                None => {
                    return Ok(ScanPage {
                        items: Vec::new(),
                        next: None,
                    })
                }
            },
            Some(Cursor::Offset { part, offset }) if mine.contains(part) => (*part, *offset),
            Some(c) => {
                return Err(bad(
                    &self.folder,
                    format!(
                        "the cursor {} is not one of segment {} of {total} in this export ({} data files): the saved backfill is of another export; start over (--restart)",
                        c.to_text(),
                        r.segment,
                        self.files.len()
                    ),
                ))
            }
        };
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut items = Vec::with_capacity(r.page_size);
        let mut buf = String::new();
        loop {
            // The segment's open file, if it is where the cursor says; else open and skip.
            let current = match open.remove(&r.segment) {
                Some(o) if o.file == file && o.line == line => o,
                _ => {
                    let mut reader = self.reader(file)?;
                    for _ in 0..line {
                        buf.clear();
                        if reader
                            .read_line(&mut buf)
                            .map_err(io(&self.files[file].path))?
                            == 0
                        {
                            break;
                        }
                    }
                    Open { file, line, reader }
                }
            };
            let mut current = current;
            let mut ended = false;
            while items.len() < r.page_size.max(1) {
                buf.clear();
                let n = current
                    .reader
                    .read_line(&mut buf)
                    .map_err(io(&self.files[file].path))?;
                if n == 0 {
                    ended = true;
                    break;
                }
                current.line += 1;
                let text = buf.trim();
                if !text.is_empty() {
                    items.push(self.item(file, current.line, text)?);
                }
            }
            if !ended {
                line = current.line;
                open.insert(r.segment, current);
                return Ok(ScanPage {
                    items,
                    next: Some(Cursor::Offset {
                        part: file,
                        offset: line,
                    }),
                });
            }
            // This file is done: the segment's next one, or the end.
            match mine.iter().find(|&&f| f > file) {
                Some(&next) => {
                    file = next;
                    line = 0;
                    if items.len() >= r.page_size.max(1) {
                        return Ok(ScanPage {
                            items,
                            next: Some(Cursor::Offset {
                                part: file,
                                offset: 0,
                            }),
                        });
                    }
                }
                None => return Ok(ScanPage { items, next: None }),
            }
        }
    }
}

impl TableScan for ExportFolder {
    fn describe(&self) -> BoxFuture<'_, Result<TableInfo, StoreError>> {
        let mut info = self.info.clone();
        if info.item_count.is_none() {
            info.item_count = self.files.iter().map(|f| f.items).sum();
        }
        Box::pin(async move { Ok(info) })
    }

    /// Reads files on the calling thread (a page is a few hundred kilobytes of gzip).
    fn scan_page(&self, request: ScanRequest) -> BoxFuture<'_, Result<ScanPage, StoreError>> {
        let page = self.page(&request);
        Box::pin(async move { page })
    }

    /// An export is a snapshot: reading one item again finds it by reading the files.
    fn read_item(
        &self,
        pk: String,
        sk: String,
    ) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        let found = (|| {
            for file in 0..self.files.len() {
                let mut reader = self.reader(file)?;
                let mut buf = String::new();
                let mut n = 0;
                loop {
                    buf.clear();
                    if reader
                        .read_line(&mut buf)
                        .map_err(io(&self.files[file].path))?
                        == 0
                    {
                        break;
                    }
                    n += 1;
                    if buf.trim().is_empty() {
                        continue;
                    }
                    let item = self.item(file, n, buf.trim())?;
                    if item.pk == pk && item.sk == sk {
                        return Ok(Some(item));
                    }
                }
            }
            Ok(None)
        })();
        Box::pin(async move { found })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// Writes an export of `files` (each a list of items as DynamoDB JSON) under `dir`, laid
    /// out as S3 holds it (`AWSDynamoDB/<id>/...`).
    fn write_export(dir: &Path, files: &[Vec<String>]) -> PathBuf {
        let root = dir.join("AWSDynamoDB").join("0123-abcd");
        std::fs::create_dir_all(root.join("data")).unwrap();
        let mut manifest = String::new();
        for (i, items) in files.iter().enumerate() {
            let name = format!("file{i}.json.gz");
            let f = std::fs::File::create(root.join("data").join(&name)).unwrap();
            let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            for item in items {
                writeln!(gz, "{{\"Item\":{item}}}").unwrap();
            }
            gz.finish().unwrap();
            manifest.push_str(&format!(
                "{{\"itemCount\":{},\"md5Checksum\":\"x\",\"etag\":\"y\",\"dataFileS3Key\":\"exports/AWSDynamoDB/0123-abcd/data/{name}\"}}\n",
                items.len()
            ));
        }
        std::fs::write(root.join("manifest-files.json"), manifest).unwrap();
        let total: usize = files.iter().map(Vec::len).sum();
        std::fs::write(
            root.join("manifest-summary.json"),
            format!("{{\"version\":\"2020-06-30\",\"tableArn\":\"arn:aws:dynamodb:us-east-1:123456789012:table/app\",\"exportTime\":\"2026-11-30T10:00:00Z\",\"itemCount\":{total},\"outputFormat\":\"DYNAMODB_JSON\",\"manifestFilesS3Key\":\"exports/AWSDynamoDB/0123-abcd/manifest-files.json\"}}"),
        )
        .unwrap();
        root
    }

    #[tokio::test]
    async fn every_item_of_every_file_once_whatever_the_segments_and_pages() {
        let dir = std::env::temp_dir().join(format!("dynastream-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files: Vec<Vec<String>> = (0..5)
            .map(|f| {
                (0..(f * 7))
                    .map(|i| format!("{{\"PK\":{{\"S\":\"P#{f}\"}},\"SK\":{{\"S\":\"S#{i}\"}},\"n\":{{\"N\":\"{i}\"}}}}"))
                    .collect()
            })
            .collect();
        write_export(&dir, &files);
        // Found from a folder above the export.
        let export = ExportFolder::open(&dir, "PK", "SK").unwrap();
        let info = export.describe().await.unwrap();
        assert_eq!((info.name.as_str(), info.item_count), ("app", Some(70)));
        assert_eq!(export.export_time(), Some("2026-11-30T10:00:00Z"));
        for total in [1, 2, 3, 8] {
            for page_size in [1, 4, 100] {
                let seen = crate::scan::scan_all(&export, total, page_size).await;
                let mut want: Vec<(String, String)> = (0..5)
                    .flat_map(|f| (0..(f * 7)).map(move |i| (format!("P#{f}"), format!("S#{i}"))))
                    .collect();
                want.sort();
                assert_eq!(seen, want, "{total} segments, pages of {page_size}");
            }
        }
        let one = export
            .read_item("P#3".into(), "S#5".into())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(&one.body, RawBody::DynamoDbJson(j) if j.contains("\"n\":{\"N\":\"5\"}")));
        assert!(export
            .read_item("P#3".into(), "S#99".into())
            .await
            .unwrap()
            .is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_broken_export_says_which_file_and_why() {
        let dir =
            std::env::temp_dir().join(format!("dynastream-export-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = write_export(&dir, &[vec!["{\"PK\":{\"S\":\"a\"}}".into()]]);
        std::fs::remove_file(root.join("data").join("file0.json.gz")).unwrap();
        let err = ExportFolder::open(&dir, "PK", "SK")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("file0.json.gz") && err.contains("missing"),
            "{err}"
        );
        let summary = root.join("manifest-summary.json");
        let text = std::fs::read_to_string(&summary)
            .unwrap()
            .replace("DYNAMODB_JSON", "ION");
        std::fs::write(&summary, text).unwrap();
        let err = ExportFolder::open(&root, "PK", "SK")
            .unwrap_err()
            .to_string();
        assert!(err.contains("outputFormat is ION"), "{err}");
        let err = ExportFolder::open(dir.join("nothing-here-either"), "PK", "SK")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nothing-here-either"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
