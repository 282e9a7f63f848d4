//! A DynamoDB export to S3 (DYNAMODB_JSON), written to a folder the way the bucket holds it:
//! `AWSDynamoDB/<ExportId>/manifest-summary.json`, `manifest-files.json` and gzipped
//! `data/*.json.gz` files of one `{"Item": ...}` per line.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Writes `items` (DynamoDB JSON items, keys included) into `files` data files of an export of
/// `table_arn` under `dir`; returns the export's folder.
pub fn write_export(dir: &Path, table_arn: &str, items: &[String], files: usize) -> PathBuf {
    let id = "01764000000000-a1b2c3d4";
    let root = dir.join("AWSDynamoDB").join(id);
    std::fs::create_dir_all(root.join("data")).expect("export folder");
    let mut manifest = String::new();
    let per = items.len().div_ceil(files.max(1)).max(1);
    for (i, chunk) in items.chunks(per).enumerate() {
        let name = format!("{i:04}-part.json.gz");
        let f = std::fs::File::create(root.join("data").join(&name)).expect("data file");
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        for item in chunk {
            writeln!(gz, "{{\"Item\":{item}}}").expect("write item");
        }
        gz.finish().expect("gzip");
        manifest.push_str(&format!(
            "{{\"itemCount\":{},\"md5Checksum\":\"-\",\"etag\":\"-\",\"dataFileS3Key\":\"exports/AWSDynamoDB/{id}/data/{name}\"}}\n",
            chunk.len()
        ));
    }
    std::fs::write(root.join("manifest-files.json"), manifest).expect("manifest");
    std::fs::write(
        root.join("manifest-summary.json"),
        serde_json::json!({
            "version": "2020-06-30",
            "exportArn": format!("{table_arn}/export/{id}"),
            "tableArn": table_arn,
            "exportTime": "2026-12-01T00:00:00Z",
            "itemCount": items.len(),
            "outputFormat": "DYNAMODB_JSON",
            "exportType": "FULL_EXPORT",
            "manifestFilesS3Key": format!("exports/AWSDynamoDB/{id}/manifest-files.json"),
        })
        .to_string(),
    )
    .expect("summary");
    root
}
