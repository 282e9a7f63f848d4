//! Where the poller remembers, per shard, the last record it acknowledged, so a restart resumes
//! right after it: a JSON file, memory only, or a [`CheckpointStore`] of your own (the
//! Postgres crate keeps them in a table in the mirror's database).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use dynastream_core::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::PollError;

/// Where checkpoints are kept: [`MemoryCheckpoints`], [`FileCheckpoints`], or one of your own
/// (`dynastream-postgres`'s `PgCheckpoints` keeps them in a table beside the mirror's). Errors
/// are [`PollError::Checkpoint`], naming the file or table.
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

/// The poller's checkpoint storage: a [`CheckpointStore`], boxed.
pub struct Checkpoints(Box<dyn CheckpointStore>);

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checkpoints({})", self.0.describe())
    }
}

impl Checkpoints {
    /// Checkpoints kept in memory only ([`MemoryCheckpoints`]).
    pub fn memory() -> Self {
        Checkpoints(Box::new(MemoryCheckpoints::default()))
    }

    /// Checkpoints in a JSON file ([`FileCheckpoints::open`]).
    ///
    /// # Errors
    ///
    /// [`PollError::Checkpoint`] when the file exists but cannot be read or is not a
    /// checkpoint file.
    pub fn file(path: impl Into<PathBuf>) -> Result<Self, PollError> {
        Ok(Checkpoints(Box::new(FileCheckpoints::open(path)?)))
    }

    /// Checkpoints kept by `store`.
    pub fn custom(store: impl CheckpointStore + 'static) -> Self {
        Checkpoints(Box::new(store))
    }

    /// Where the checkpoints are kept, for messages.
    pub fn describe(&self) -> String {
        self.0.describe()
    }

    /// Every shard's checkpoint for a stream.
    pub async fn load(
        &mut self,
        stream_arn: &str,
    ) -> Result<HashMap<String, ShardCheckpoint>, PollError> {
        self.0.load(stream_arn).await
    }

    /// Records a shard's checkpoint.
    pub async fn save(
        &mut self,
        stream_arn: &str,
        shard_id: &str,
        checkpoint: &ShardCheckpoint,
    ) -> Result<(), PollError> {
        self.0.save(stream_arn, shard_id, checkpoint).await
    }
}

/// Checkpoints that do not survive the process: every start begins at the starting position.
/// Stream ARN → shard ID → checkpoint; [`FileCheckpoints`] keeps the same state in a file.
#[derive(Debug, Default)]
pub struct MemoryCheckpoints {
    streams: BTreeMap<String, BTreeMap<String, ShardCheckpoint>>,
}

impl MemoryCheckpoints {
    fn shards(&self, stream_arn: &str) -> HashMap<String, ShardCheckpoint> {
        self.streams
            .get(stream_arn)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn set(&mut self, stream_arn: &str, shard_id: &str, checkpoint: &ShardCheckpoint) {
        self.streams
            .entry(stream_arn.to_string())
            .or_default()
            .insert(shard_id.to_string(), checkpoint.clone());
    }
}

impl CheckpointStore for MemoryCheckpoints {
    fn describe(&self) -> String {
        "memory (not kept across runs)".into()
    }

    fn load<'a>(
        &'a mut self,
        stream_arn: &'a str,
    ) -> BoxFuture<'a, Result<HashMap<String, ShardCheckpoint>, PollError>> {
        Box::pin(std::future::ready(Ok(self.shards(stream_arn))))
    }

    fn save<'a>(
        &'a mut self,
        stream_arn: &'a str,
        shard_id: &'a str,
        checkpoint: &'a ShardCheckpoint,
    ) -> BoxFuture<'a, Result<(), PollError>> {
        self.set(stream_arn, shard_id, checkpoint);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Checkpoints in a JSON file, rewritten atomically (a temporary file, then a rename) on every
/// save: `{"version": 1, "streams": {stream ARN: {shard ID: checkpoint}}}`.
#[derive(Debug)]
pub struct FileCheckpoints {
    path: PathBuf,
    state: MemoryCheckpoints,
}

#[derive(Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    streams: BTreeMap<String, BTreeMap<String, ShardCheckpoint>>,
}

impl FileCheckpoints {
    /// The checkpoints in `path`, read now if it exists (created, with its directory, on the
    /// first save).
    ///
    /// # Errors
    ///
    /// [`PollError::Checkpoint`] when the file exists but cannot be read, is not JSON of the
    /// format above, or has another version.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, PollError> {
        let path = path.into();
        let fail =
            |message: String, source: Option<dynastream_core::BoxError>| PollError::Checkpoint {
                target: path.display().to_string(),
                message,
                source,
            };
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let f: FileFormat = serde_json::from_slice(&bytes)
                    .map_err(|e| fail("not a checkpoint file".into(), Some(e.into())))?;
                if f.version != 1 {
                    return Err(fail(
                        format!("unknown checkpoint file version {}", f.version),
                        None,
                    ));
                }
                f.streams
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(fail("cannot be read".into(), Some(e.into()))),
        };
        Ok(FileCheckpoints {
            path,
            state: MemoryCheckpoints { streams: state },
        })
    }
}

impl CheckpointStore for FileCheckpoints {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn load<'a>(
        &'a mut self,
        stream_arn: &'a str,
    ) -> BoxFuture<'a, Result<HashMap<String, ShardCheckpoint>, PollError>> {
        Box::pin(std::future::ready(Ok(self.state.shards(stream_arn))))
    }

    fn save<'a>(
        &'a mut self,
        stream_arn: &'a str,
        shard_id: &'a str,
        checkpoint: &'a ShardCheckpoint,
    ) -> BoxFuture<'a, Result<(), PollError>> {
        self.state.set(stream_arn, shard_id, checkpoint);
        Box::pin(std::future::ready(write_atomically(
            &self.path,
            &self.state.streams,
        )))
    }
}

fn write_atomically(
    path: &Path,
    state: &BTreeMap<String, BTreeMap<String, ShardCheckpoint>>,
) -> Result<(), PollError> {
    let fail = |message: &str, source: dynastream_core::BoxError| PollError::Checkpoint {
        target: path.display().to_string(),
        message: message.to_string(),
        source: Some(source),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| fail("its directory cannot be created", e.into()))?;
    }
    let body = serde_json::to_vec_pretty(&FileFormat {
        version: 1,
        streams: state.clone(),
    })
    .map_err(|e| fail("cannot be written as JSON", e.into()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, body).map_err(|e| fail("cannot be written", e.into()))?;
    std::fs::rename(&tmp, path).map_err(|e| fail("cannot be replaced", e.into()))
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
