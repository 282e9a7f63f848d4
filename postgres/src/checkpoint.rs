//! The poller's checkpoints in the mirror's database: table `<mirror table>_checkpoints` beside
//! the mirror's table, one row per stream and shard.

use std::collections::HashMap;

use dynastream_core::{BoxError, BoxFuture};
use dynastream_poll::CheckpointStore;
use dynastream_poll::{PollError, ShardCheckpoint};

use crate::sql;
use crate::MirrorConfig;

/// Checkpoints in Postgres. Hand it to the poller with
/// [`Checkpoints::custom`](dynastream_poll::Checkpoints::custom).
pub struct PgCheckpoints {
    client: tokio_postgres::Client,
    /// The quoted, qualified table name.
    table: String,
}

impl std::fmt::Debug for PgCheckpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgCheckpoints({})", self.table)
    }
}

impl PgCheckpoints {
    /// Connects with the mirror's settings and creates `<table>_checkpoints` if missing (under
    /// an advisory lock, so concurrent starts do not collide).
    ///
    /// Errors: [`PollError::Checkpoint`] naming the table, with the server's SQLSTATE and
    /// message when it refused.
    pub async fn connect(config: &MirrorConfig) -> Result<Self, PollError> {
        let name = format!("{}_checkpoints", config.table);
        let target = format!("{}.{}", config.schema, name);
        let fail = |message: String, source: Option<BoxError>| PollError::Checkpoint {
            target: target.clone(),
            message,
            source,
        };
        let db = |e: tokio_postgres::Error| fail(crate::error::describe(&e), Some(e.into()));
        sql::check_ident("checkpoint table", &name).map_err(|m| fail(m, None))?;
        let mut client = crate::conn::dial(config)
            .await
            .map_err(|e| fail("cannot connect".into(), Some(e.into())))?;
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
        let tx = client.transaction().await.map_err(db)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&format!("dynastream checkpoints {target}")],
        )
        .await
        .map_err(db)?;
        tx.batch_execute(&ddl).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(PgCheckpoints { client, table })
    }

    fn fail(&self, e: tokio_postgres::Error) -> PollError {
        PollError::Checkpoint {
            target: self.table.clone(),
            message: crate::error::describe(&e),
            source: Some(e.into()),
        }
    }
}

impl CheckpointStore for PgCheckpoints {
    fn describe(&self) -> String {
        format!("table {}", self.table)
    }

    fn load<'a>(
        &'a mut self,
        stream_arn: &'a str,
    ) -> BoxFuture<'a, Result<HashMap<String, ShardCheckpoint>, PollError>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT shard_id, sequence_number, finished FROM {} WHERE stream_arn = $1",
                self.table
            );
            let rows = self
                .client
                .query(&sql, &[&stream_arn])
                .await
                .map_err(|e| self.fail(e))?;
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
        })
    }

    fn save<'a>(
        &'a mut self,
        stream_arn: &'a str,
        shard_id: &'a str,
        checkpoint: &'a ShardCheckpoint,
    ) -> BoxFuture<'a, Result<(), PollError>> {
        Box::pin(async move {
            let sql = format!(
                "INSERT INTO {} (stream_arn, shard_id, sequence_number, finished)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (stream_arn, shard_id) DO UPDATE
                 SET sequence_number = EXCLUDED.sequence_number,
                     finished = EXCLUDED.finished, updated_at = now()",
                self.table
            );
            self.client
                .execute(
                    &sql,
                    &[
                        &stream_arn,
                        &shard_id,
                        &checkpoint.sequence_number,
                        &checkpoint.finished,
                    ],
                )
                .await
                .map_err(|e| self.fail(e))?;
            Ok(())
        })
    }
}
