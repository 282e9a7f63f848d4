//! How a Postgres error is told: the server's SQLSTATE, message, detail and hint when the
//! server answered, else the driver's own description with its cause.

use std::error::Error as _;
use std::time::Duration;

/// `23505 duplicate key value violates unique constraint "x" (detail: Key (pk)=(a) already
/// exists.)`, or the client-side error (`connection closed: Connection reset by peer`).
///
/// tokio-postgres' own `Display` says only `db error` for a server error; every error this
/// crate surfaces goes through here so the reason reaches the log and the batch report.
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut out = format!("{} {}", db.code().code(), db.message());
        if let Some(d) = db.detail() {
            // A CHECK violation's detail is the whole failing row: keep logs and batch reports
            // short, and item data out of them beyond a glimpse.
            out.push_str(&format!(" (detail: {})", clip(d, 300)));
        }
        if let Some(h) = db.hint() {
            out.push_str(&format!(" (hint: {h})"));
        }
        if let Some(w) = db.where_() {
            out.push_str(&format!(" (where: {})", clip(w, 300)));
        }
        return out;
    }
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// What went wrong in the mirror or while connecting. Messages name the server (host, port,
/// database, user) but never the password, and carry the server's SQLSTATE, message and detail
/// (see [`describe`]). They have no `mirror:` prefix: the router adds the hook's name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// The connection string or a setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// host:port/database as user.
        target: String,
        /// Why, with the server's SQLSTATE and message when it refused ([`describe`]).
        message: String,
        /// The driver's (or the TLS setup's) error.
        #[source]
        source: dynastream_core::BoxError,
    },
    /// Creating the table or a view failed.
    #[error("creating {what} failed: {}", describe(source))]
    Ddl {
        /// The table or view.
        what: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Writing the batch failed; nothing of it is acknowledged.
    #[error("writing {rows} rows to {target} failed: {}", describe(source))]
    Write {
        /// How many rows the statement carried.
        rows: usize,
        /// host:port/database.
        target: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement other than the batch write failed: recording the source table, a
    /// backfill's cursor, a verify's comparison.
    #[error("{what} failed: {}", describe(source))]
    Query {
        /// What the statement was for.
        what: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Reading the source table (a backfill's or verify's scan) failed.
    #[error("{operation} on the source table failed: {source}")]
    Source {
        /// The operation (`Scan`, `DescribeTable`, `GetItem`).
        operation: &'static str,
        /// The source's error.
        #[source]
        source: Box<dynastream_store::StoreError>,
    },
    /// Postgres refused one record's row for what it holds; that record fails alone (or is
    /// skipped, by the router's `undecodable` policy).
    #[error(
        "Postgres refused the row of item (pk {}, sk {}): {}",
        abbrev(pk),
        abbrev(sk),
        describe(source)
    )]
    Refused {
        /// The item's partition key.
        pk: String,
        /// The item's sort key.
        sk: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The server did not answer in time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was waiting.
        what: &'static str,
        /// The limit.
        after: Duration,
    },
}

impl MirrorError {
    /// Whether the server refused a statement for the data it carried, not for the connection
    /// or its own state: SQLSTATE class 22 (data exception: a value the column type cannot
    /// hold), 23 (integrity constraint violation: a user's CHECK constraint or trigger) or 54
    /// (program limit exceeded: a key too long for the index, a value too large). Such a
    /// refusal belongs to a row; the mirror isolates it instead of failing the batch.
    pub fn refused_for_data(&self) -> bool {
        let source = match self {
            MirrorError::Write { source, .. } | MirrorError::Refused { source, .. } => source,
            _ => return false,
        };
        refused_for_data(source)
    }

    /// This refusal as the one row's ([`MirrorError::Refused`]); other errors as they are.
    pub(crate) fn for_row(self, pk: &str, sk: &str) -> MirrorError {
        match self {
            MirrorError::Write { source, .. } => MirrorError::Refused {
                pk: pk.to_string(),
                sk: sk.to_string(),
                source,
            },
            other => other,
        }
    }
}

/// Whether the server refused a statement for the data it carried: SQLSTATE class 22, 23 or
/// 54 (see [`MirrorError::refused_for_data`]).
pub(crate) fn refused_for_data(e: &tokio_postgres::Error) -> bool {
    e.as_db_error()
        .is_some_and(|db| matches!(db.code().code().get(..2), Some("22" | "23" | "54")))
}

/// `text` cut after `max` characters, saying how long it was.
fn clip(text: &str, max: usize) -> String {
    match head(text, max) {
        Some(h) => format!("{h}... ({} bytes)", text.len()),
        None => text.to_string(),
    }
}

/// `text` in quotes, cut after 40 characters (keys can be 2048 bytes long).
pub(crate) fn abbrev(text: &str) -> String {
    match head(text, 40) {
        Some(h) => format!("{h:?}... ({} bytes)", text.len()),
        None => format!("{text:?}"),
    }
}

/// The first `max` characters of `text`, when it has more.
fn head(text: &str, max: usize) -> Option<&str> {
    text.char_indices().nth(max).map(|(at, _)| &text[..at])
}
