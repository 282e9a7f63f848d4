//! `handler poll`, `handler record` and `handler seed`: the example app against a live stream.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use dynastream::poll::{
    capture, event_json_pretty, AwsStream, Checkpoints, PollConfig, PollEvent, Poller, Position,
};
use dynastream::store::{DynamoStore, Store};
use dynastream::Concurrency;
use dynastream_example_models::{
    Board, Decimal, OrderLine, Story, Task, TaskKey, TaskStatus, UserProfile,
};

use crate::{app, connected_router, mirror_config, print_records};

pub const USAGE: &str =
    "       handler poll --table T [--endpoint URL] [--batch-size N] [--batching-window SECS]
                    [--max-retries N|-1] [--no-bisect] [--from trim-horizon|latest]
                    [--checkpoint FILE | --checkpoint-in-mirror] [--on-failure FILE]
                    [--mirror URL [--mirror-table T]] [--no-store] [--concurrency N]
                    [--until-idle] [--quiet]
       handler record --table T --out FILE [--endpoint URL] [--last N]
       handler seed --table T [--endpoint URL]   (example writes: inserts, a modify, a remove)";

fn usage(message: &str) -> ExitCode {
    eprintln!("{message}\nusage:\n{USAGE}");
    ExitCode::from(2)
}

/// Options every command here takes: the table and the endpoint.
fn table_and_endpoint(
    a: &str,
    it: &mut std::slice::Iter<'_, String>,
    table: &mut Option<String>,
    endpoint: &mut Option<String>,
) -> Result<bool, String> {
    match a {
        "--table" => *table = Some(it.next().ok_or("--table needs a table name")?.clone()),
        "--endpoint" => *endpoint = Some(it.next().ok_or("--endpoint needs a URL")?.clone()),
        _ => return Ok(false),
    }
    Ok(true)
}

fn number<T: std::str::FromStr>(
    it: &mut std::slice::Iter<'_, String>,
    flag: &str,
) -> Result<T, String> {
    it.next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

pub async fn poll(args: &[String]) -> ExitCode {
    let (mut table, mut endpoint) = (None, None);
    let mut config = PollConfig::default();
    let mut checkpoint_file: Option<PathBuf> = None;
    let mut checkpoint_in_mirror = false;
    let mut on_failure: Option<PathBuf> = None;
    let (mut mirror_url, mut mirror_table) = (None::<String>, None::<String>);
    let mut store = true;
    let mut concurrency = Concurrency::Sequential;
    let mut quiet = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let parsed: Result<(), String> = (|| {
            if table_and_endpoint(a, &mut it, &mut table, &mut endpoint)? {
                return Ok(());
            }
            match a.as_str() {
                "--batch-size" => {
                    let n: usize = number(&mut it, a)?;
                    if !(1..=10_000).contains(&n) {
                        return Err("--batch-size takes 1 to 10000".into());
                    }
                    config.batch_size = n;
                }
                "--batching-window" => {
                    let s: f64 = number(&mut it, a)?;
                    if !(0.0..=300.0).contains(&s) {
                        return Err("--batching-window takes 0 to 300 seconds".into());
                    }
                    config.batching_window = Duration::from_secs_f64(s);
                }
                "--max-retries" => {
                    let n: i64 = number(&mut it, a)?;
                    config.retry.max_retry_attempts = match n {
                        -1 => None,
                        0..=10_000 => Some(n as u32),
                        _ => return Err("--max-retries takes -1 (forever) to 10000".into()),
                    };
                }
                "--no-bisect" => config.retry.bisect_on_error = false,
                "--from" => {
                    config.starting_position = match it.next().map(String::as_str) {
                        Some("trim-horizon") => Position::TrimHorizon,
                        Some("latest") => Position::Latest,
                        _ => return Err("--from takes trim-horizon or latest".into()),
                    }
                }
                "--checkpoint" => {
                    checkpoint_file = Some(it.next().ok_or("--checkpoint needs a file")?.into())
                }
                "--checkpoint-in-mirror" => checkpoint_in_mirror = true,
                "--on-failure" => {
                    on_failure = Some(it.next().ok_or("--on-failure needs a file")?.into())
                }
                "--mirror" => {
                    mirror_url = Some(
                        it.next()
                            .ok_or("--mirror needs a connection string")?
                            .clone(),
                    )
                }
                "--mirror-table" => {
                    mirror_table = Some(it.next().ok_or("--mirror-table needs a name")?.clone())
                }
                "--no-store" => store = false,
                "--concurrency" => {
                    let max: usize = number(&mut it, a)?;
                    concurrency = Concurrency::PerKey { max };
                }
                "--until-idle" => config.stop_when_idle = true,
                "--quiet" => quiet = true,
                other => return Err(format!("unknown option {other}")),
            }
            Ok(())
        })();
        if let Err(e) = parsed {
            return usage(&e);
        }
    }
    let Some(table) = table else {
        return usage("poll needs --table T");
    };
    if checkpoint_in_mirror && checkpoint_file.is_some() {
        return usage("--checkpoint and --checkpoint-in-mirror exclude each other");
    }
    if mirror_table.is_some() && mirror_url.is_none() {
        return usage("--mirror-table needs --mirror");
    }
    let mirror = match mirror_url {
        Some(url) => match mirror_config(&url, mirror_table.as_deref()) {
            Ok(c) => Some(c),
            Err(e) => return usage(&e),
        },
        None => None,
    };
    let checkpoints = if checkpoint_in_mirror {
        let Some(m) = &mirror else {
            return usage("--checkpoint-in-mirror needs --mirror");
        };
        Checkpoints::postgres(m).await
    } else {
        Checkpoints::file(
            checkpoint_file
                .unwrap_or_else(|| format!(".dynastream/{table}.checkpoints.json").into()),
        )
    };
    let checkpoints = match checkpoints {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    config.on_failure =
        Some(on_failure.unwrap_or_else(|| format!(".dynastream/{table}.failed.jsonl").into()));

    let stream = match AwsStream::connect(&table, endpoint.as_deref()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let app_store = if store {
        Some(app::AppStore::Dynamo(
            DynamoStore::from_env(table.clone(), endpoint.as_deref()).await,
        ))
    } else {
        None
    };
    let router = match connected_router(concurrency, mirror, app_store).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(m) = router.mirror() {
        println!("mirroring into {}", m.config().qualified_table());
    }
    use dynastream::poll::StreamSource as _;
    println!(
        "polling {} (table {table}); checkpoints in {}; records given up on go to {}",
        stream.stream_arn(),
        checkpoints.describe(),
        config
            .on_failure
            .as_deref()
            .unwrap_or(std::path::Path::new("-"))
            .display(),
    );
    let until_idle = config.stop_when_idle;
    if !until_idle {
        println!("Ctrl-C stops after the batch in flight (twice: at once)");
    }
    let poller = Poller::new(router, stream, checkpoints)
        .config(config)
        .on_event(move |e| print_event(e, quiet, until_idle));
    let shutdown = async {
        if tokio::signal::ctrl_c().await.is_err() {
            return std::future::pending().await;
        }
        println!("stopping after the batch in flight (Ctrl-C again to quit at once)");
        tokio::spawn(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    };
    match poller.run(shutdown).await {
        Ok(stats) => {
            println!(
                "stopped: {} records handled, {} given up; checkpoints saved",
                stats.records, stats.given_up
            );
            if stats.given_up > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("poll stopped: {e}");
            ExitCode::from(2)
        }
    }
}

fn lag_text(lag: Option<Duration>) -> String {
    lag.map_or("-".into(), |d| format!("{:.1}s", d.as_secs_f64()))
}

fn print_event(e: &PollEvent<'_>, quiet: bool, until_idle: bool) {
    match e {
        PollEvent::ShardStarted { shard_id, position } => {
            let from = match position {
                Position::TrimHorizon => "the oldest record".to_string(),
                Position::Latest => "new records only".to_string(),
                Position::After(seq) => format!("after {seq} (checkpoint)"),
            };
            println!("shard {shard_id}: reading from {from}");
        }
        PollEvent::Invoked {
            shard_id,
            records,
            report,
            attempt,
        } => {
            if !quiet {
                let retry = if *attempt > 1 {
                    format!(", retry {}", attempt - 1)
                } else {
                    String::new()
                };
                println!("shard {shard_id}: batch of {}{retry}", records.len());
                print_records(report);
            }
        }
        PollEvent::InvocationError { shard_id, error } => {
            println!("shard {shard_id}: invocation error: {error}")
        }
        PollEvent::Bisected {
            shard_id,
            left,
            right,
        } => println!("shard {shard_id}: failed records split into {left} + {right}"),
        PollEvent::Retrying {
            shard_id,
            records,
            retry,
            delay,
            reason,
        } => println!(
            "shard {shard_id}: retry {retry} of {records} record(s) in {:.1}s ({reason})",
            delay.as_secs_f64()
        ),
        PollEvent::GaveUp {
            shard_id,
            records,
            reason,
            written_to,
        } => println!(
            "shard {shard_id}: gave up on {} record(s) ({reason}); {}",
            records.len(),
            match written_to {
                Some(p) => format!("written to {}", p.display()),
                None => "dropped".into(),
            }
        ),
        PollEvent::ShardFinished { shard_id } => {
            println!("shard {shard_id}: closed and fully read")
        }
        PollEvent::ReadError { shard_id, error } => println!(
            "{}: read failed, trying again: {error}",
            shard_id.map_or("shard list".to_string(), |s| format!("shard {s}"))
        ),
        PollEvent::CheckpointTrimmed { shard_id, after } => println!(
            "shard {shard_id}: checkpoint {after} was trimmed from the stream; \
             reading from the oldest record (records in between were never delivered)"
        ),
        PollEvent::Progress { stats } => {
            let lags: Vec<String> = stats
                .shards
                .iter()
                .filter(|(_, s)| !s.finished)
                .map(|(id, s)| format!("{id} lag {}", lag_text(s.lag)))
                .collect();
            println!(
                "progress: {} records handled, {} given up, {} failed invocations; {}",
                stats.records,
                stats.given_up,
                stats.failed_invocations,
                lags.join(", ")
            );
        }
        PollEvent::Idle { stats } => println!(
            "caught up: {} records handled, {} given up{}",
            stats.records,
            stats.given_up,
            if until_idle {
                ""
            } else {
                "; waiting for new records"
            }
        ),
    }
}

pub async fn record(args: &[String]) -> ExitCode {
    let (mut table, mut endpoint) = (None, None);
    let mut out: Option<PathBuf> = None;
    let mut last: Option<usize> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let parsed: Result<(), String> = (|| {
            if table_and_endpoint(a, &mut it, &mut table, &mut endpoint)? {
                return Ok(());
            }
            match a.as_str() {
                "--out" => out = Some(it.next().ok_or("--out needs a file")?.into()),
                "--last" => last = Some(number(&mut it, a)?),
                other => return Err(format!("unknown option {other}")),
            }
            Ok(())
        })();
        if let Err(e) = parsed {
            return usage(&e);
        }
    }
    let (Some(table), Some(out)) = (table, out) else {
        return usage("record needs --table T and --out FILE");
    };
    let stream = match AwsStream::connect(&table, endpoint.as_deref()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut records = match capture(&stream, &Position::TrimHorizon, None).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("reading the stream of {table}: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(n) = last {
        records.drain(..records.len().saturating_sub(n));
    }
    let (Some(first), Some(end)) = (records.first(), records.last()) else {
        eprintln!("the stream of table {table} holds no records: nothing written");
        return ExitCode::from(1);
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("{}: {e}", dir.display());
            return ExitCode::from(2);
        }
    }
    if let Err(e) = std::fs::write(&out, event_json_pretty(&records)) {
        eprintln!("{}: {e}", out.display());
        return ExitCode::from(2);
    }
    println!(
        "wrote {} record(s) ({} .. {}) to {}; replay with: handler replay {}",
        records.len(),
        first.sequence_number,
        end.sequence_number,
        out.display(),
        out.display()
    );
    ExitCode::SUCCESS
}

pub async fn seed(args: &[String]) -> ExitCode {
    let (mut table, mut endpoint) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match table_and_endpoint(a, &mut it, &mut table, &mut endpoint) {
            Ok(true) => {}
            Ok(false) => return usage(&format!("unknown option {a}")),
            Err(e) => return usage(&e),
        }
    }
    let Some(table) = table else {
        return usage("seed needs --table T");
    };
    let store = DynamoStore::from_env(table.clone(), endpoint.as_deref()).await;
    let task = |id: &str, title: &str, status| Task {
        owner: "ann".into(),
        task_id: id.into(),
        title: title.into(),
        status,
    };
    let result: Result<(), dynastream::store::StoreError> = async {
        store
            .save(&Board {
                owner: "ann".into(),
                board_id: "home".into(),
                name: "Home".into(),
                task_count: 0,
            })
            .await?;
        println!("saved Board ann/home");
        store
            .save(&task("t1", "Water the plants", TaskStatus::Open))
            .await?;
        store
            .save(&task("t2", "Fix the bike", TaskStatus::Open))
            .await?;
        println!("saved Task ann/t1, ann/t2");
        store
            .save(&UserProfile {
                owner: "ann".into(),
                display_name: "Ann".into(),
                email: "ann@example.com".into(),
                age: Some(34),
            })
            .await?;
        println!("saved UserProfile ann");
        store
            .save(&Story {
                owner: "ann".into(),
                story_id: "s1".into(),
                title: "Spring".into(),
                content: "The garden wakes up.".into(),
                tags: ["garden".to_string(), "spring".to_string()].into(),
                word_count: 4,
            })
            .await?;
        println!("saved Story ann/s1");
        store
            .save(&OrderLine {
                order_id: "o1".into(),
                line: 1,
                sku: "SEED-1".into(),
                qty: 3,
                unit_price: Decimal::new(1999, 2),
            })
            .await?;
        println!("saved OrderLine o1/1");
        store
            .save(&task("t1", "Water the plants", TaskStatus::Closed))
            .await?;
        println!("closed Task ann/t1");
        store
            .delete::<Task>(&TaskKey {
                owner: "ann".into(),
                task_id: "t2".into(),
            })
            .await?;
        println!("deleted Task ann/t2");
        Ok(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("writing to {table}: {e}");
            ExitCode::from(2)
        }
    }
}
