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
            out.push_str(&format!(" (detail: {d})"));
        }
        if let Some(h) = db.hint() {
            out.push_str(&format!(" (hint: {h})"));
        }
        if let Some(w) = db.where_() {
            out.push_str(&format!(" (where: {w})"));
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
pub enum MirrorError {
    /// The connection string or a setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// host:port/database as user.
        target: String,
        /// Why.
        message: String,
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
    /// The server did not answer in time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was waiting.
        what: &'static str,
        /// The limit.
        after: Duration,
    },
}
