//! The commands: what each does with the app's router and the configuration.

use std::path::Path;
use std::process::ExitCode;

use dynastream_core::{BoxError, Concurrency, Router};

use super::cli::{Command, Global, ReplayArgs, RunArgs};
use super::print::print_records;
use super::{doing, AppStore, BuildFn, Setup};

/// Whether a command wants the configured store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreUse {
    /// The store `--store` names, else the `--table` table.
    Default,
    /// Only a store `--store` names explicitly.
    Explicit,
}

/// The mirror's connection settings, when a mirror is configured.
#[cfg(feature = "postgres")]
async fn mirror_config(g: &Global) -> Result<Option<crate::postgres::MirrorConfig>, BoxError> {
    #[allow(unused_mut)]
    let mut url = g.mirror.clone();
    #[cfg(feature = "secrets-manager")]
    if url.is_none() {
        if let Some(arn) = g.mirror_secret.as_deref().filter(|a| !a.is_empty()) {
            url = Some(super::secret::database_url(arn).await?);
        }
    }
    let Some(url) = url.filter(|u| !u.is_empty()) else {
        if g.mirror_table.is_some() && !g.store.as_deref().is_some_and(is_postgres) {
            return Err(
                "--mirror-table needs --mirror (MIRROR_URL) or a postgres:// --store".into(),
            );
        }
        return Ok(None);
    };
    pg_config(g, &url).map(Some)
}

#[cfg(feature = "postgres")]
fn pg_config(g: &Global, url: &str) -> Result<crate::postgres::MirrorConfig, BoxError> {
    let mut c = crate::postgres::MirrorConfig::new(url)?;
    // One connection per invocation Lambda Managed Instances may run at once.
    if let Some(n) = crate::lambda::max_concurrency() {
        c = c.connections(n as usize);
    }
    if let Some(t) = &g.mirror_table {
        c = c.table(t)?;
    }
    if let Some(p) = &g.mirror_view_prefix {
        c = c.view_prefix(p)?;
    }
    // What is not given comes from the models when the router is built.
    if let Some(p) = &g.pk_attr {
        c = c.partition_key_attribute(p);
    }
    if let Some(s) = &g.sk_attr {
        c = c.sort_key_attribute(s);
    }
    Ok(c)
}

fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// The configured store, connected.
async fn open_store(g: &Global, use_: StoreUse) -> Result<Option<AppStore>, BoxError> {
    #[allow(unused_mut)]
    let mut spec = g.store.clone();
    #[cfg(feature = "dynamodb")]
    if spec.is_none() && use_ == StoreUse::Default {
        spec = g.table.as_ref().map(|t| format!("dynamodb://{t}"));
    }
    let _ = use_;
    let Some(spec) = spec.filter(|s| !s.is_empty() && s != "none") else {
        return Ok(None);
    };
    if let Some(table) = spec.strip_prefix("dynamodb://") {
        if table.is_empty() {
            return Err("--store dynamodb://TABLE needs a table name".into());
        }
        #[cfg(feature = "dynamodb")]
        {
            let store =
                crate::dynamodb::DynamoStore::from_env(table, g.endpoint_url.as_deref()).await;
            return Ok(Some(AppStore::Dynamo(store)));
        }
        #[cfg(not(feature = "dynamodb"))]
        return Err(format!(
            "--store dynamodb://{table}: this app was built without dynastream's `dynamodb` feature"
        )
        .into());
    }
    if is_postgres(&spec) {
        #[cfg(feature = "postgres")]
        {
            let config = pg_config(g, &spec)?;
            let store = crate::postgres::PgStore::connect(&config).await?;
            store.create_table().await?;
            return Ok(Some(AppStore::Postgres(Box::new(store))));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(
            "--store postgres://...: this app was built without dynastream's `postgres` feature"
                .into(),
        );
    }
    Err(format!("--store takes dynamodb://TABLE, a postgres:// URL or none, not {spec:?}").into())
}

/// The [`Setup`] the app's router function gets.
pub(crate) async fn setup(g: &Global, use_: StoreUse) -> Result<Setup, BoxError> {
    Ok(Setup {
        store: open_store(g, use_).await?,
    })
}

/// The app's router with the configured mirror and concurrency; the mirror, if any, beside it.
pub(crate) struct Built<S> {
    pub(crate) router: Router<S>,
    #[cfg(feature = "postgres")]
    pub(crate) mirror: Option<std::sync::Arc<crate::postgres::Mirror>>,
}

pub(crate) async fn build<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
    run: Option<RunArgs>,
    use_: StoreUse,
) -> Result<Built<S>, BoxError> {
    #[cfg(feature = "postgres")]
    let mirror = mirror_config(g)
        .await?
        .map(|c| std::sync::Arc::new(crate::postgres::Mirror::new(c)));
    let setup = setup(g, use_).await?;
    let mut builder = f(setup);
    #[cfg(feature = "postgres")]
    if let Some(m) = &mirror {
        builder = builder.hook(std::sync::Arc::clone(m));
    }
    if let Some(ns) = g.metrics_namespace.as_deref().filter(|n| !n.is_empty()) {
        let mut m = crate::metrics::Metrics::new(ns);
        if let Some(s) = g.metrics_service.as_deref().filter(|s| !s.is_empty()) {
            m = m.service(s);
        }
        builder = builder.metrics(m);
    }
    if let Some(n) = run.and_then(|r| r.concurrency) {
        builder = builder.concurrency(Concurrency::PerKey { max: n as usize });
    }
    let router = builder.build().map_err(doing("invalid router set-up"))?;
    Ok(Built {
        router,
        #[cfg(feature = "postgres")]
        mirror,
    })
}

/// Runs one built-in command.
pub(crate) async fn run<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
    cmd: Command,
) -> Result<ExitCode, BoxError> {
    match cmd {
        Command::Replay(a) => replay(f, g, a).await,
        #[cfg(feature = "poll")]
        Command::Poll(a) => stream::poll(f, g, a).await,
        #[cfg(feature = "poll")]
        Command::Record(a) => stream::record(g, a).await,
        #[cfg(feature = "dynamodb")]
        Command::CreateTable => stream::create_table(f, g).await,
        #[cfg(feature = "mirror-tools")]
        Command::Backfill(a) => super::backfill::backfill(f, g, a).await,
        #[cfg(feature = "mirror-tools")]
        Command::Verify(a) => super::backfill::verify(f, g, a).await,
        #[cfg(feature = "redrive")]
        Command::Redrive(a) => super::redrive::redrive(f, g, a).await,
        Command::FilterCriteria(a) => filter_criteria(f, g, a.format).await,
        Command::Serve => serve(f, g).await,
    }
}

/// `filter-criteria`: the JSON on standard output, what it means on standard error.
async fn filter_criteria<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
    format: super::cli::FilterFormat,
) -> Result<ExitCode, BoxError> {
    let built = build(f, g, None, StoreUse::Explicit).await?;
    match built.router.filter_criteria() {
        Ok(criteria) => {
            match format {
                super::cli::FilterFormat::Json => println!("{}", criteria.to_json()),
                super::cli::FilterFormat::SamParameters => {
                    // One shell word each: `$(...)` splits on whitespace.
                    if let Some(p) = criteria
                        .patterns
                        .iter()
                        .find(|p| p.contains(char::is_whitespace))
                    {
                        return Err(format!("a pattern holds whitespace, so it cannot be one word of --parameter-overrides: {p}; use --format json").into());
                    }
                    for (i, p) in criteria.patterns.iter().enumerate() {
                        println!("FilterPattern{}={p}", i + 1);
                    }
                }
            }
            eprintln!(
                "{} filter(s): Lambda passes a record when one matches; records no handler takes are dropped before an invocation (and are not mirrored or seen by anything else)",
                criteria.patterns.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => Err(doing("no FilterCriteria for this app")(refusal)),
    }
}

/// Serves Lambda invocations until the runtime stops.
pub(crate) async fn serve<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
) -> Result<ExitCode, BoxError> {
    let built = build(f, g, None, StoreUse::Default).await?;
    // Connect during the cold start; if that fails, the first batch tries again and, failing
    // too, is reported failed (Lambda delivers it again).
    if let Err(e) = built.router.start().await {
        tracing::warn!(error = %e, "a batch hook could not start (the first batch retries)");
    }
    crate::lambda::run(built.router)
        .await
        .map_err(doing("the Lambda runtime stopped"))?;
    Ok(ExitCode::SUCCESS)
}

/// A file's events, each with its name for the output (`file` or `file:line`).
type Events<'b> = Vec<(String, &'b [u8])>;

/// Events in a file: the whole file, or one per line for `.jsonl`. A UTF-8 byte-order mark is
/// skipped.
fn events_of<'b>(file: &Path, bytes: &'b [u8]) -> Events<'b> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let name = file.display().to_string();
    if file.extension().is_some_and(|e| e == "jsonl") {
        bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .map(|(i, line)| {
                (
                    format!("{name}:{}", i + 1),
                    line.strip_prefix(BOM).unwrap_or(line),
                )
            })
            .collect()
    } else {
        vec![(name, bytes)]
    }
}

async fn replay<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
    a: ReplayArgs,
) -> Result<ExitCode, BoxError> {
    let built = build(f, g, Some(a.run), StoreUse::Explicit).await?;
    let router = built.router;
    router.start().await?;
    #[cfg(feature = "postgres")]
    if let Some(m) = &built.mirror {
        let views: Vec<String> = router
            .registry()
            .specs()
            .iter()
            .map(|s| crate::postgres::view_name(m.config(), s))
            .collect();
        println!(
            "mirroring into {} (views: {})",
            m.config().qualified_table(),
            views.join(", ")
        );
    }
    let files: Vec<(&Path, std::io::Result<Vec<u8>>)> = a
        .files
        .iter()
        .map(|p| (p.as_path(), std::fs::read(p)))
        .collect();
    // Each file split into its events once: the count sizes the progress bar.
    let events: Vec<(&Path, Result<Events<'_>, &std::io::Error>)> = files
        .iter()
        .map(|(p, b)| (*p, b.as_ref().map(|b| events_of(p, b))))
        .collect();
    let total: usize = events
        .iter()
        .map(|(_, e)| e.as_ref().map_or(0, Vec::len))
        .sum();
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(total as u64),
        indicatif::ProgressDrawTarget::stderr(),
    )
    .with_message("events");
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed})")
    {
        progress.set_style(style);
    }
    let mut status = 0u8;
    for (file, file_events) in events {
        let file_events = match file_events {
            Ok(e) => e,
            Err(e) => {
                progress.suspend(|| eprintln!("{}: cannot read: {e}", file.display()));
                status = 2;
                continue;
            }
        };
        for (name, event) in file_events {
            let report = router.handle_event(event, Default::default()).await;
            progress.inc(1);
            progress.suspend(|| match report {
                Err(e) => {
                    println!("{name}: invocation error: {e}");
                    status = 2;
                }
                Ok(report) => {
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
            });
        }
    }
    progress.finish_and_clear();
    Ok(ExitCode::from(status))
}

/// `create-table`, and with feature `poll` `poll` and `record`: the commands that reach
/// DynamoDB.
#[cfg(feature = "dynamodb")]
pub(crate) mod stream {
    use std::process::ExitCode;
    #[cfg(feature = "poll")]
    use std::time::Duration;

    use dynastream_core::BoxError;
    #[cfg(feature = "poll")]
    use dynastream_poll::{
        capture, event_json_pretty, Checkpoints, PollConfig, Poller, Position, StreamSource as _,
    };

    use super::super::cli::Global;
    #[cfg(feature = "poll")]
    use super::super::cli::{PollArgs, RecordArgs, StartFrom};
    #[cfg(feature = "poll")]
    use super::super::print::print_event;
    use super::super::{doing, then, BuildFn};
    #[cfg(feature = "poll")]
    use super::{build, StoreUse};
    #[cfg(feature = "poll")]
    use crate::dynamodb::AwsStream;
    use crate::dynamodb::DynamoStore;

    pub(crate) fn table(g: &Global) -> Result<&str, BoxError> {
        g.table
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                "this command needs --table TABLE (or TABLE_NAME); poll and record read a Kinesis data stream with --kinesis-stream STREAM instead".into()
            })
    }

    #[cfg(feature = "poll")]
    pub(crate) async fn poll<S: Send + Sync + 'static>(
        f: &BuildFn<S>,
        g: &Global,
        a: PollArgs,
    ) -> Result<ExitCode, BoxError> {
        // On Kinesis the stream's name stands for the table in file names and messages.
        let table = match &a.kinesis_stream {
            Some(k) => g
                .table
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| k.rsplit('/').next().unwrap_or(k).to_string()),
            None => table(g)?.to_string(),
        };
        let config = PollConfig::default()
            .batch_size(a.batch_size as usize)
            .batching_window(Duration::from_secs_f64(a.batching_window))
            .starting_position(match a.from {
                StartFrom::TrimHorizon => Position::TrimHorizon,
                StartFrom::Latest => Position::Latest,
            })
            .retry(
                dynastream_poll::RetryPolicy::default()
                    .max_retry_attempts(u32::try_from(a.max_retries).ok())
                    .bisect_on_error(!a.no_bisect),
            )
            .on_failure(Some(a.on_failure.clone().unwrap_or_else(|| {
                format!(".dynastream/{table}.failed.jsonl").into()
            })))
            .stop_when_idle(a.until_idle)
            .max_record_age(
                u64::try_from(a.max_record_age)
                    .ok()
                    .map(Duration::from_secs),
            )
            .parallelization_factor(a.parallelization_factor as usize);
        let built = build(f, g, Some(a.run), StoreUse::Default).await?;
        #[cfg(feature = "postgres")]
        let checkpoints = if a.checkpoint_in_mirror {
            let Some(m) = &built.mirror else {
                return Err("--checkpoint-in-mirror needs --mirror (MIRROR_URL)".into());
            };
            Checkpoints::custom(crate::postgres::PgCheckpoints::connect(m.config()).await?)
        } else {
            file_checkpoints(&table, &a)?
        };
        #[cfg(not(feature = "postgres"))]
        let checkpoints = file_checkpoints(&table, &a)?;
        let stream = Source::connect(&table, a.kinesis_stream.as_deref(), g).await?;
        built.router.start().await?;
        #[cfg(feature = "postgres")]
        if let Some(m) = &built.mirror {
            println!("mirroring into {}", m.config().qualified_table());
        }
        println!(
            "polling {} ({}); checkpoints in {}; records given up on go to {}",
            stream.stream_arn(),
            stream.describe(&table),
            checkpoints.describe(),
            config
                .on_failure
                .as_deref()
                .unwrap_or(std::path::Path::new("-"))
                .display(),
        );
        let (quiet, until_idle) = (a.quiet, a.until_idle);
        if !until_idle {
            println!("Ctrl-C stops after the batch in flight (twice: at once)");
        }
        let poller = Poller::new(built.router, stream, checkpoints)
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
        let stats = poller.run(shutdown).await.map_err(doing("poll stopped"))?;
        println!(
            "stopped: {} records handled, {} given up; checkpoints saved",
            stats.records, stats.given_up
        );
        Ok(if stats.given_up > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }

    #[cfg(feature = "poll")]
    fn file_checkpoints(table: &str, a: &PollArgs) -> Result<Checkpoints, BoxError> {
        Ok(Checkpoints::file(a.checkpoint.clone().unwrap_or_else(
            || format!(".dynastream/{table}.checkpoints.json").into(),
        ))?)
    }

    #[cfg(feature = "poll")]
    pub(crate) async fn record(g: &Global, a: RecordArgs) -> Result<ExitCode, BoxError> {
        let table = match &a.kinesis_stream {
            Some(k) => g
                .table
                .as_deref()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| k.rsplit('/').next().unwrap_or(k)),
            None => table(g)?,
        };
        let stream = Source::connect(table, a.kinesis_stream.as_deref(), g).await?;
        let table = &stream.describe(table);
        let spinner =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr())
                .with_message(format!("reading the stream of {table}"));
        spinner.enable_steady_tick(Duration::from_millis(120));
        let captured = capture(&stream, &Position::TrimHorizon, None).await;
        spinner.finish_and_clear();
        let mut records = captured.map_err(doing(format!("reading the stream of {table}")))?;
        if let Some(n) = a.last {
            records.drain(..records.len().saturating_sub(n));
        }
        let (Some(first), Some(end)) = (records.first(), records.last()) else {
            eprintln!("the stream of {table} holds no records: nothing written");
            return Ok(ExitCode::from(1));
        };
        let out = &a.out;
        write_event_file(out, &records)?;
        let bin = std::env::args()
            .next()
            .map(|a| {
                std::path::Path::new(&a)
                    .file_name()
                    .map_or(a.clone(), |n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        println!(
            "wrote {} record(s) ({} .. {}) to {}; replay with: {bin} replay {}",
            records.len(),
            first.sequence_number,
            end.sequence_number,
            out.display(),
            out.display()
        );
        Ok(ExitCode::SUCCESS)
    }

    /// The stream `poll` and `record` read: the table's DynamoDB stream, or the Kinesis data
    /// stream its changes go to (`--kinesis-stream`).
    #[cfg(feature = "poll")]
    enum Source {
        Dynamo(AwsStream),
        Kinesis(crate::dynamodb::KinesisStream),
    }

    #[cfg(feature = "poll")]
    impl Source {
        async fn connect(table: &str, kinesis: Option<&str>, g: &Global) -> Result<Self, BoxError> {
            let endpoint = g.endpoint_url.as_deref();
            Ok(match kinesis {
                Some(k) => {
                    Source::Kinesis(crate::dynamodb::KinesisStream::connect(k, endpoint).await?)
                }
                None => Source::Dynamo(AwsStream::connect(table, endpoint).await?),
            })
        }

        /// What is read, for messages: `table T`, or `Kinesis stream S (table T)`.
        fn describe(&self, table: &str) -> String {
            match self {
                Source::Dynamo(_) => format!("table {table}"),
                Source::Kinesis(k) if k.stream_name() == table => {
                    format!("Kinesis stream {}", k.stream_name())
                }
                Source::Kinesis(k) => format!("Kinesis stream {} (table {table})", k.stream_name()),
            }
        }
    }

    #[cfg(feature = "poll")]
    impl dynastream_poll::StreamSource for Source {
        fn stream_arn(&self) -> &str {
            match self {
                Source::Dynamo(s) => s.stream_arn(),
                Source::Kinesis(s) => s.stream_arn(),
            }
        }

        async fn shards(
            &self,
        ) -> Result<Vec<dynastream_poll::ShardInfo>, dynastream_poll::SourceError> {
            match self {
                Source::Dynamo(s) => s.shards().await,
                Source::Kinesis(s) => s.shards().await,
            }
        }

        async fn iterator(
            &self,
            shard: &str,
            at: &Position,
        ) -> Result<String, dynastream_poll::SourceError> {
            match self {
                Source::Dynamo(s) => s.iterator(shard, at).await,
                Source::Kinesis(s) => s.iterator(shard, at).await,
            }
        }

        async fn read(
            &self,
            iterator: &str,
            limit: usize,
        ) -> Result<dynastream_poll::Page, dynastream_poll::SourceError> {
            match self {
                Source::Dynamo(s) => s.read(iterator, limit).await,
                Source::Kinesis(s) => s.read(iterator, limit).await,
            }
        }
    }

    /// `records` as one event file (one record per line) at `out`, its folder made if needed.
    #[cfg(feature = "poll")]
    pub(crate) fn write_event_file(
        out: &std::path::Path,
        records: &[dynastream_poll::StreamRecord],
    ) -> Result<(), BoxError> {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(doing(dir.display().to_string()))?;
        }
        std::fs::write(out, event_json_pretty(records)).map_err(doing(out.display().to_string()))
    }

    pub(crate) async fn create_table<S: Send + Sync + 'static>(
        f: &BuildFn<S>,
        g: &Global,
    ) -> Result<ExitCode, BoxError> {
        let table = table(g)?.to_string();
        // The models say which key attributes and indexes the table needs.
        let router = f(super::Setup::default())
            .build()
            .map_err(doing("invalid router set-up"))?;
        let registry = router.registry();
        let (pk, sk) = match (&g.pk_attr, &g.sk_attr) {
            (Some(p), Some(s)) => (p.as_str(), s.as_str()),
            (p, s) => {
                let (mp, ms) = registry
                    .table_key_attributes()
                    .map_err(then("set --pk-attr and --sk-attr"))?;
                (p.as_deref().unwrap_or(mp), s.as_deref().unwrap_or(ms))
            }
        };
        let specs: Vec<_> = registry
            .specs()
            .iter()
            .flat_map(|s| s.indexes().iter().cloned())
            .collect();
        let indexes = crate::dynamodb::index_attrs(&specs);
        let store = DynamoStore::from_env(table.clone(), g.endpoint_url.as_deref()).await;
        store
            .create_table(pk, sk, &indexes)
            .await
            .map_err(doing(format!("creating table {table}")))?;
        let names: Vec<&str> = indexes.iter().map(|(n, _, _)| *n).collect();
        println!(
            "created table {table} ({pk}{}{}, stream NEW_AND_OLD_IMAGES)",
            if sk.is_empty() {
                " (partition key only)".to_string()
            } else {
                format!("/{sk}")
            },
            if names.is_empty() {
                String::new()
            } else {
                format!(", {}", names.join(", "))
            }
        );
        Ok(ExitCode::SUCCESS)
    }
}
