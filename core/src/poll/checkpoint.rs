//! Where the poller remembers, per shard, the last record it acknowledged, so a restart resumes
//! right after it: a JSON file, memory only, or a [`CheckpointStore`] of your own (the
//! Postgres crate keeps them in a table in the mirror's database).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::poll::PollError;

/// A boxed future, as [`CheckpointStore`]'s methods return it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Checkpoint storage kept outside this crate (a database table). Errors are
/// [`PollError::Checkpoint`], naming the table.
pub trait CheckpointStore: Send + Sync {
    /// Where the checkpoints are kept, for messages (`table public.items_checkpoints`).
    fn describe(&self) -> String;

    /// Every shard's checkpoint for a stream, by shard ID.
    fn load<'a>(
        &'a mut self,
        stream_arn: &'a str,
    ) -> BoxFuture<'a, Result<HashMap<String, ShardCheckpoint>, PollError>>;

    /// Records a shard's checkpoint (replacing the one before).
    fn save<'a>(
        &'a mut self,
        stream_arn: &'a str,
        shard_id: &'a str,
        checkpoint: &'a ShardCheckpoint,
    ) -> BoxFuture<'a, Result<(), PollError>>;
}

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
    /// Kept by a [`CheckpointStore`] (see [`Checkpoints::custom`]).
    Custom(Box<dyn CheckpointStore>),
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Checkpoints::Memory(m) => write!(f, "Checkpoints::Memory({} shards)", m.len()),
            Checkpoints::File { path, .. } => write!(f, "Checkpoints::File({})", path.display()),
            Checkpoints::Custom(c) => write!(f, "Checkpoints::Custom({})", c.describe()),
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

    /// Checkpoints kept by `store` (`dynastream-postgres` keeps them in a table beside the
    /// mirror's).
    pub fn custom(store: impl CheckpointStore + 'static) -> Self {
        Checkpoints::Custom(Box::new(store))
    }

    /// Where the checkpoints are kept, for messages.
    pub fn describe(&self) -> String {
        match self {
            Checkpoints::Memory(_) => "memory (not kept across runs)".into(),
            Checkpoints::File { path, .. } => path.display().to_string(),
            Checkpoints::Custom(c) => c.describe(),
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
            Checkpoints::Custom(c) => c.load(stream_arn).await,
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
            Checkpoints::Custom(c) => c.save(stream_arn, shard_id, checkpoint).await,
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
