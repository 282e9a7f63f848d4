//! Where the poller remembers, per shard, the last record it acknowledged, so a restart resumes
//! right after it: a JSON file, a table in the mirror's database, or memory only.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::mirror::{sql, MirrorConfig};
use crate::poll::PollError;

/// One shard's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardCheckpoint {
    /// The last sequence number acknowledged (handled, or given up on and written to the
    /// on-failure file); reading resumes after it.
    #[serde(rename = "sequenceNumber", skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// The shard is closed and every record of it was acknowledged: its children may start.
    #[serde(default)]
    pub finished: bool,
}

/// Checkpoint storage.
pub enum Checkpoints {
    /// Nothing survives the process (every start begins at the starting position).
    Memory(HashMap<(String, String), ShardCheckpoint>),
    /// A JSON file, rewritten atomically (temporary file, then rename) on every save.
    File {
        /// The file.
        path: PathBuf,
        /// Its contents: stream ARN → shard ID → checkpoint.
        state: BTreeMap<String, BTreeMap<String, ShardCheckpoint>>,
    },
    /// A table in Postgres (`<mirror table>_checkpoints` in the mirror's schema).
    Postgres {
        /// The connection.
        client: tokio_postgres::Client,
        /// The quoted, qualified table name.
        table: String,
    },
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Checkpoints::Memory(m) => write!(f, "Checkpoints::Memory({} shards)", m.len()),
            Checkpoints::File { path, .. } => write!(f, "Checkpoints::File({})", path.display()),
            Checkpoints::Postgres { table, .. } => write!(f, "Checkpoints::Postgres({table})"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    streams: BTreeMap<String, BTreeMap<String, ShardCheckpoint>>,
}

impl Checkpoints {
    /// Checkpoints kept in memory only.
    pub fn memory() -> Self {
        Checkpoints::Memory(HashMap::new())
    }

    /// Checkpoints in a JSON file, read now if it exists (created, with its directory, on the
    /// first save).
    pub fn file(path: impl Into<PathBuf>) -> Result<Self, PollError> {
        let path = path.into();
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let f: FileFormat =
                    serde_json::from_slice(&bytes).map_err(|e| PollError::Checkpoint {
                        target: path.display().to_string(),
                        message: format!("not a checkpoint file: {e}"),
                    })?;
                if f.version != 1 {
                    return Err(PollError::Checkpoint {
                        target: path.display().to_string(),
                        message: format!("unknown checkpoint file version {}", f.version),
                    });
                }
                f.streams
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(PollError::Checkpoint {
                    target: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        Ok(Checkpoints::File { path, state })
    }

    /// Checkpoints in the mirror's database: table `<table>_checkpoints` beside the mirror's
    /// table, created if missing.
    pub async fn postgres(config: &MirrorConfig) -> Result<Self, PollError> {
        let name = format!("{}_checkpoints", config.table);
        let target = format!("{}.{}", config.schema, name);
        let fail = |message: String| PollError::Checkpoint {
            target: target.clone(),
            message,
        };
        sql::check_ident("checkpoint table", &name).map_err(&fail)?;
        let client = crate::mirror::dial(config)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let table = sql::qualified(&config.schema, &name);
        let ddl = format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {table} (
                 stream_arn text NOT NULL,
                 shard_id text NOT NULL,
                 sequence_number text,
                 finished boolean NOT NULL DEFAULT false,
                 updated_at timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (stream_arn, shard_id)
             );",
            schema = sql::quote_ident(&config.schema),
        );
        // Under an advisory lock: concurrent CREATE ... IF NOT EXISTS can still collide.
        let mut client = client;
        let tx = client
            .transaction()
            .await
            .map_err(|e| fail(e.to_string()))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&format!("dynastream checkpoints {target}")],
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
        tx.batch_execute(&ddl)
            .await
            .map_err(|e| fail(e.to_string()))?;
        tx.commit().await.map_err(|e| fail(e.to_string()))?;
        Ok(Checkpoints::Postgres { client, table })
    }

    /// Where the checkpoints are kept, for messages.
    pub fn describe(&self) -> String {
        match self {
            Checkpoints::Memory(_) => "memory (not kept across runs)".into(),
            Checkpoints::File { path, .. } => path.display().to_string(),
            Checkpoints::Postgres { table, .. } => format!("table {table}"),
        }
    }

    /// Every shard's checkpoint for a stream.
    pub async fn load(
        &mut self,
        stream_arn: &str,
    ) -> Result<HashMap<String, ShardCheckpoint>, PollError> {
        match self {
            Checkpoints::Memory(m) => Ok(m
                .iter()
                .filter(|((s, _), _)| s == stream_arn)
                .map(|((_, shard), c)| (shard.clone(), c.clone()))
                .collect()),
            Checkpoints::File { state, .. } => Ok(state
                .get(stream_arn)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()),
            Checkpoints::Postgres { client, table } => {
                let rows = client
                    .query(
                        &format!(
                            "SELECT shard_id, sequence_number, finished FROM {table} WHERE stream_arn = $1"
                        ),
                        &[&stream_arn],
                    )
                    .await
                    .map_err(|e| PollError::Checkpoint {
                        target: table.clone(),
                        message: e.to_string(),
                    })?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        (
                            r.get::<_, String>(0),
                            ShardCheckpoint {
                                sequence_number: r.get(1),
                                finished: r.get(2),
                            },
                        )
                    })
                    .collect())
            }
        }
    }

    /// Records a shard's checkpoint.
    pub async fn save(
        &mut self,
        stream_arn: &str,
        shard_id: &str,
        checkpoint: &ShardCheckpoint,
    ) -> Result<(), PollError> {
        match self {
            Checkpoints::Memory(m) => {
                m.insert(
                    (stream_arn.to_string(), shard_id.to_string()),
                    checkpoint.clone(),
                );
                Ok(())
            }
            Checkpoints::File { path, state } => {
                state
                    .entry(stream_arn.to_string())
                    .or_default()
                    .insert(shard_id.to_string(), checkpoint.clone());
                write_atomically(path, state)
            }
            Checkpoints::Postgres { client, table } => {
                client
                    .execute(
                        &format!(
                            "INSERT INTO {table} (stream_arn, shard_id, sequence_number, finished)
                             VALUES ($1, $2, $3, $4)
                             ON CONFLICT (stream_arn, shard_id) DO UPDATE
                             SET sequence_number = EXCLUDED.sequence_number,
                                 finished = EXCLUDED.finished, updated_at = now()"
                        ),
                        &[
                            &stream_arn,
                            &shard_id,
                            &checkpoint.sequence_number,
                            &checkpoint.finished,
                        ],
                    )
                    .await
                    .map_err(|e| PollError::Checkpoint {
                        target: table.clone(),
                        message: e.to_string(),
                    })?;
                Ok(())
            }
        }
    }
}

fn write_atomically(
    path: &Path,
    state: &BTreeMap<String, BTreeMap<String, ShardCheckpoint>>,
) -> Result<(), PollError> {
    let fail = |message: String| PollError::Checkpoint {
        target: path.display().to_string(),
        message,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    }
    let body = serde_json::to_vec_pretty(&FileFormat {
        version: 1,
        streams: state.clone(),
    })
    .map_err(|e| fail(e.to_string()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, body).map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_checkpoints_survive_a_restart_and_keep_streams_apart() {
        let dir = std::env::temp_dir().join(format!("dynastream-ckpt-{}", std::process::id()));
        let path = dir.join("nested").join("c.json");
        let _ = std::fs::remove_dir_all(&dir);
        let mut c = Checkpoints::file(&path).unwrap();
        assert!(c.load("a").await.unwrap().is_empty());
        let one = ShardCheckpoint {
            sequence_number: Some("100".into()),
            finished: false,
        };
        c.save("a", "shard-1", &one).await.unwrap();
        c.save(
            "b",
            "shard-1",
            &ShardCheckpoint {
                sequence_number: None,
                finished: true,
            },
        )
        .await
        .unwrap();
        let mut again = Checkpoints::file(&path).unwrap();
        let a = again.load("a").await.unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a["shard-1"], one);
        assert!(again.load("b").await.unwrap()["shard-1"].finished);
        std::fs::write(&path, b"{not json").unwrap();
        let e = Checkpoints::file(&path).unwrap_err().to_string();
        assert!(
            e.contains("c.json") && e.contains("not a checkpoint file"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
