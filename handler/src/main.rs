//! The example Lambda function.
//!
//! - Under Lambda (`AWS_LAMBDA_RUNTIME_API` set, e.g. by `cargo lambda watch`), it serves
//!   DynamoDB Streams invocations.
//!   With `DATABASE_URL` set, or `DATABASE_SECRET_ARN` naming a Secrets Manager secret that
//!   holds the connection string (read once at cold start), it mirrors every record into
//!   Postgres (table `MIRROR_TABLE`, default `dynastream_items`).
//!   With `TABLE_NAME` set (the template sets it), the task handler keeps boards' `task_count`
//!   in step through a DynamoDB store over that table.
//! - `handler replay [--concurrency N] [--mirror URL [--mirror-table T]] [--store STORE] FILE...`
//!   runs the same router over event files (a `.jsonl` file: one event per line, as
//!   `handler poll` writes records it gave up on) and prints each record's outcome and the batch
//!   response; exit status 1 if a record failed, 2 if an event could not be read at all (or
//!   the mirror's or store's database cannot be reached). `--store dynamodb://TABLE` (the
//!   standard AWS configuration; `--dynamodb-endpoint URL` for a local server) or
//!   `--store postgres://...` (the mirror's table layout, `--mirror-table` naming the table).
//! - `handler poll --table T` reads the table's stream like Lambda's event source mapping and
//!   runs the same router (see `dynastream::poll`); `handler record` writes the stream's records
//!   to an event file; `handler seed` writes example items.

mod app;
mod poll;
mod secret;

/// mimalloc instead of glibc's malloc. A batch allocates every decoded string and key it hands
/// to the handlers (about 10,800 allocations for the benchmark's 1000 records), and glibc's
/// malloc spends part of each batch consolidating its fast bins; with mimalloc the same batch
/// runs about 9% fewer instructions (README, "Performance": `cargo bench --bench decode`
/// against `--bench decode_mimalloc`), for about a millisecond more cold start (README,
/// "Deploy"). The framework itself leaves the choice to the app, as this one makes it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use dynastream::mirror::MirrorConfig;
use dynastream::store::{DynamoStore, PgStore};
use dynastream::{BatchReport, Concurrency, Outcome};

const USAGE: &str = "usage: handler replay [--concurrency N] [--mirror URL [--mirror-table T]]
                      [--store dynamodb://TABLE [--dynamodb-endpoint URL] | --store postgres://...]
                      FILE...
       handler create-table --table T [--dynamodb-endpoint URL]
                          (the example table: PK/SK, GSI1 on GSI1PK/GSI1SK, stream with both images)
{POLL}
       handler            (under the Lambda runtime: AWS_LAMBDA_RUNTIME_API is set;
                           DATABASE_URL or DATABASE_SECRET_ARN turns the Postgres mirror on,
                           MIRROR_TABLE names its table, TABLE_NAME the store's table)";

/// The whole usage text.
fn usage() -> String {
    USAGE.replace("{POLL}", poll::USAGE)
}

/// Opens the store `--store` names.
async fn open_store(
    spec: &str,
    endpoint: Option<&str>,
    table: Option<&str>,
) -> Result<app::AppStore, String> {
    if let Some(table) = spec.strip_prefix("dynamodb://") {
        if table.is_empty() {
            return Err("--store dynamodb://TABLE needs a table name".into());
        }
        return Ok(app::AppStore::Dynamo(
            DynamoStore::from_env(table, endpoint).await,
        ));
    }
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        let config = mirror_config(spec, table)?;
        let store = PgStore::connect(&config).await.map_err(|e| e.to_string())?;
        store.create_table().await.map_err(|e| e.to_string())?;
        return Ok(app::AppStore::Postgres(Box::new(store)));
    }
    Err(format!(
        "--store takes dynamodb://TABLE or a postgres:// URL, not {spec:?}"
    ))
}

/// The example app's router, its mirror (if any) connected: what the local commands run.
pub(crate) async fn connected_router(
    concurrency: Concurrency,
    mirror: Option<MirrorConfig>,
    store: Option<app::AppStore>,
) -> Result<dynastream::Router<app::AppState>, String> {
    let router = app::router(concurrency, mirror, store)
        .map_err(|e| format!("invalid router set-up: {e}"))?;
    if let Some(m) = router.mirror() {
        m.connect().await.map_err(|e| e.to_string())?;
    }
    Ok(router)
}

/// The mirror's settings from a connection string and an optional table name.
fn mirror_config(url: &str, table: Option<&str>) -> Result<MirrorConfig, String> {
    let c = MirrorConfig::new(url).map_err(|e| e.to_string())?;
    match table {
        Some(t) => c.table(t).map_err(|e| e.to_string()),
        None => Ok(c),
    }
}

fn main() -> ExitCode {
    dynastream::lambda::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match args.first().map(String::as_str) {
        Some("replay") => runtime.block_on(replay(&args[1..])),
        Some("create-table") => runtime.block_on(create_table(&args[1..])),
        Some("poll") => runtime.block_on(poll::poll(&args[1..])),
        Some("record") => runtime.block_on(poll::record(&args[1..])),
        Some("seed") => runtime.block_on(poll::seed(&args[1..])),
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => {
            let url = match (
                std::env::var("DATABASE_URL"),
                std::env::var("DATABASE_SECRET_ARN"),
            ) {
                (Ok(url), _) => Some(url),
                (Err(_), Ok(arn)) if !arn.is_empty() => {
                    match runtime.block_on(secret::database_url(&arn)) {
                        Ok(url) => Some(url),
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read the mirror's connection string");
                            return ExitCode::from(2);
                        }
                    }
                }
                _ => None,
            };
            let mirror = match url {
                Some(url) => {
                    match mirror_config(&url, std::env::var("MIRROR_TABLE").ok().as_deref()) {
                        Ok(c) => Some(c),
                        Err(e) => {
                            tracing::error!(error = %e, "invalid mirror settings");
                            return ExitCode::from(2);
                        }
                    }
                }
                None => None,
            };
            let store = match std::env::var("TABLE_NAME") {
                Ok(table) if !table.is_empty() => Some(app::AppStore::Dynamo(
                    runtime.block_on(DynamoStore::from_env(table, None)),
                )),
                _ => None,
            };
            let router = match app::router(Concurrency::Sequential, mirror, store) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "invalid router set-up");
                    return ExitCode::from(2);
                }
            };
            if let Some(m) = router.mirror() {
                // Connect during the cold start; if that fails, the first batch retries and,
                // failing too, is reported failed (Lambda delivers it again).
                if let Err(e) = runtime.block_on(m.connect()) {
                    tracing::warn!(error = %e, "mirror not reachable at start-up");
                }
            }
            match runtime.block_on(dynastream::lambda::run(router)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "lambda runtime stopped");
                    ExitCode::from(2)
                }
            }
        }
        _ => {
            eprintln!("{}", usage());
            ExitCode::from(2)
        }
    }
}

async fn create_table(args: &[String]) -> ExitCode {
    let (mut table, mut endpoint) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--table", Some(t)) => table = Some(t.clone()),
            ("--dynamodb-endpoint", Some(u)) => endpoint = Some(u.clone()),
            _ => {
                eprintln!("{}", usage());
                return ExitCode::from(2);
            }
        }
    }
    let Some(table) = table else {
        eprintln!("create-table needs --table T\n{}", usage());
        return ExitCode::from(2);
    };
    let store = DynamoStore::from_env(table.clone(), endpoint.as_deref()).await;
    match store
        .create_table("PK", "SK", &[("GSI1", "GSI1PK", "GSI1SK")])
        .await
    {
        Ok(()) => {
            println!("created table {table} (PK/SK, GSI1, stream NEW_AND_OLD_IMAGES)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("creating table {table}: {e}");
            ExitCode::from(2)
        }
    }
}

async fn replay(args: &[String]) -> ExitCode {
    let mut concurrency = Concurrency::Sequential;
    let mut mirror_url = None;
    let mut mirror_table = None;
    let mut store_spec: Option<String> = None;
    let mut endpoint: Option<String> = None;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--concurrency" => match it.next().and_then(|n| n.parse().ok()) {
                Some(max) => concurrency = Concurrency::PerKey { max },
                None => {
                    eprintln!("--concurrency needs a positive number\n{}", usage());
                    return ExitCode::from(2);
                }
            },
            "--mirror" => match it.next() {
                Some(url) => mirror_url = Some(url.clone()),
                None => {
                    eprintln!("--mirror needs a connection string\n{}", usage());
                    return ExitCode::from(2);
                }
            },
            "--mirror-table" => match it.next() {
                Some(t) => mirror_table = Some(t.clone()),
                None => {
                    eprintln!("--mirror-table needs a table name\n{}", usage());
                    return ExitCode::from(2);
                }
            },
            "--store" => match it.next() {
                Some(v) => store_spec = Some(v.clone()),
                None => {
                    eprintln!(
                        "--store needs dynamodb://TABLE or a postgres:// URL\n{}",
                        usage()
                    );
                    return ExitCode::from(2);
                }
            },
            "--dynamodb-endpoint" => match it.next() {
                Some(v) => endpoint = Some(v.clone()),
                None => {
                    eprintln!("--dynamodb-endpoint needs a URL\n{}", usage());
                    return ExitCode::from(2);
                }
            },
            f if f.starts_with("--") => {
                eprintln!("unknown option {f}\n{}", usage());
                return ExitCode::from(2);
            }
            f => files.push(f),
        }
    }
    if files.is_empty() {
        eprintln!("{}", usage());
        return ExitCode::from(2);
    }
    let pg_store = store_spec
        .as_deref()
        .is_some_and(|s| s.starts_with("postgres"));
    if mirror_table.is_some() && mirror_url.is_none() && !pg_store {
        eprintln!(
            "--mirror-table needs --mirror or a postgres --store\n{}",
            usage()
        );
        return ExitCode::from(2);
    }
    if endpoint.is_some()
        && !store_spec
            .as_deref()
            .is_some_and(|s| s.starts_with("dynamodb://"))
    {
        eprintln!(
            "--dynamodb-endpoint needs --store dynamodb://TABLE\n{}",
            usage()
        );
        return ExitCode::from(2);
    }
    let store = match &store_spec {
        Some(spec) => match open_store(spec, endpoint.as_deref(), mirror_table.as_deref()).await {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let mirror = match mirror_url {
        Some(url) => match mirror_config(&url, mirror_table.as_deref()) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let router = match connected_router(concurrency, mirror, store).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(m) = router.mirror() {
        let views: Vec<String> = router
            .registry()
            .specs()
            .iter()
            .map(|s| dynastream::mirror::view_name(m.config(), s))
            .collect();
        println!(
            "mirroring into {} (views: {})",
            m.config().qualified_table(),
            views.join(", ")
        );
    }
    let mut status = 0u8;
    for file in files {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                status = 2;
                continue;
            }
        };
        // A .jsonl file (`handler poll`'s on-failure file) holds one event per line.
        let events: Vec<(String, &[u8])> = if file.ends_with(".jsonl") {
            bytes
                .split(|b| *b == b'\n')
                .enumerate()
                .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
                .map(|(i, line)| (format!("{file}:{}", i + 1), line))
                .collect()
        } else {
            vec![(file.to_string(), &bytes[..])]
        };
        for (name, event) in events {
            let report = match router.handle_event(event, Default::default()).await {
                Ok(r) => r,
                Err(e) => {
                    println!("{name}: invocation error: {e}");
                    status = 2;
                    continue;
                }
            };
            let n = report.records.len();
            println!("{name}: {n} record{}", if n == 1 { "" } else { "s" });
            print_records(&report);
            let response = serde_json::to_string(&report.response())
                .unwrap_or_else(|e| format!("<unserializable: {e}>"));
            println!("response: {response}");
            if report.has_failures() {
                status = status.max(1);
            }
        }
    }
    ExitCode::from(status)
}

/// One line per record: sequence number, model, kind, outcome.
pub(crate) fn print_records(report: &BatchReport) {
    for r in &report.records {
        let kind = r.kind.map_or("-", |k| k.as_str());
        let model = r.model.unwrap_or("-");
        match &r.outcome {
            Outcome::Ok | Outcome::Deferred => println!(
                "  {:<28} {:<12} {:<6} {}",
                r.sequence_number,
                model,
                kind,
                r.outcome.label()
            ),
            Outcome::Skipped(why) => println!(
                "  {:<28} {:<12} {:<6} skipped: {why}",
                r.sequence_number, model, kind
            ),
            Outcome::Failed(e) => println!(
                "  {:<28} {:<12} {:<6} failed: {e}",
                r.sequence_number, model, kind
            ),
        }
    }
}
