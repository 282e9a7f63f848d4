//! What the tests that run the handler binary against moto's server (DYNAMODB_ENDPOINT,
//! started by scripts/test) and Postgres share.

#![allow(dead_code)] // each test crate uses its own part

use std::process::{Command, Output};

/// Credentials and region for moto (it checks neither).
pub const ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

pub fn endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT")
        .expect("DYNAMODB_ENDPOINT: run scripts/test, which starts moto's server")
}

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Runs the handler binary with moto's credentials, warnings-only logs and no metrics.
pub fn handler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(args)
        .envs(ENV)
        .env("RUST_LOG", "warn")
        .env_remove("POWERTOOLS_METRICS_NAMESPACE")
        .output()
        .expect("run handler")
}

/// A run's exit status and output, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `handler create-table --table TABLE` against moto; fails the test if it fails.
pub fn create_table(table: &str) {
    let o = handler(&[
        "create-table",
        "--table",
        table,
        "--endpoint-url",
        &endpoint(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}
