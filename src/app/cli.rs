//! The command line: the options every command shares and one subcommand per developer task,
//! parsed with clap's derive. An option has one spelling in every command and, where a
//! deployed Lambda sets it, the same environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    about = "A dynastream app: serves DynamoDB Streams batches under AWS Lambda, and runs the same \
             router over event files or a live stream on your machine.",
    after_help = "Under the Lambda runtime (AWS_LAMBDA_RUNTIME_API set) with no command it serves \
                  invocations. Exit status: 0 all records acknowledged; 1 a record failed or was \
                  given up; 2 usage, configuration, or an event or service that cannot be read."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Global {
    /// Mirror every record into Postgres at this connection string (`postgres://...`).
    #[cfg(feature = "postgres")]
    #[arg(
        long,
        global = true,
        env = "MIRROR_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub(crate) mirror: Option<String>,

    /// Read the mirror's connection string from this Secrets Manager secret (the string, JSON
    /// with `url`, or an RDS secret), once at start-up.
    #[cfg(feature = "secrets-manager")]
    #[arg(
        long,
        global = true,
        env = "MIRROR_SECRET_ARN",
        value_name = "ARN",
        conflicts_with = "mirror"
    )]
    pub(crate) mirror_secret: Option<String>,

    /// The mirror's table: `items` or `schema.items` (default `public.dynastream_items`).
    #[cfg(feature = "postgres")]
    #[arg(long, global = true, env = "MIRROR_TABLE", value_name = "TABLE")]
    pub(crate) mirror_table: Option<String>,

    /// A prefix for the mirror's view names (`big_` makes `big_story`), for a second mirror
    /// table in the same schema: a schema holds one set of views per prefix.
    #[cfg(feature = "postgres")]
    #[arg(long, global = true, env = "MIRROR_VIEW_PREFIX", value_name = "PREFIX")]
    pub(crate) mirror_view_prefix: Option<String>,

    /// The DynamoDB table: whose stream `poll` and `record` read, which `create-table` creates,
    /// which `backfill` and `verify` scan, and the default store.
    #[cfg(feature = "dynamodb")]
    #[arg(long, global = true, env = "TABLE_NAME", value_name = "TABLE")]
    pub(crate) table: Option<String>,

    /// Where handlers read and write models: `dynamodb://TABLE` (feature `dynamodb`), a
    /// `postgres://` URL (feature `postgres`: the mirror's table layout), or `none`. Default: the
    /// `--table` table when one is given (replay: none, so replaying files never writes to a
    /// table unless asked).
    #[arg(long, global = true, env = "DYNASTREAM_STORE", value_name = "STORE")]
    pub(crate) store: Option<String>,

    /// A local AWS-compatible endpoint (moto's server) for DynamoDB, DynamoDB Streams, Kinesis,
    /// S3 and SQS; otherwise the AWS SDK's own settings apply (`AWS_ENDPOINT_URL`, profile, region).
    /// A queue URL on a local host is its own endpoint.
    #[cfg(feature = "dynamodb")]
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,

    /// The table's partition key attribute name, where one table's is needed (the mirror,
    /// `create-table`). Default: the models', `PK` unless they say otherwise.
    #[arg(long, global = true, env = "DYNASTREAM_PK_ATTR", value_name = "NAME")]
    pub(crate) pk_attr: Option<String>,

    /// The table's sort key attribute name, where one table's is needed (the mirror,
    /// `create-table`); `''` (empty) for a table with a partition key only. Default: the
    /// models', `SK` unless they say otherwise (none for models declared without `sk`).
    #[arg(long, global = true, env = "DYNASTREAM_SK_ATTR", value_name = "NAME")]
    pub(crate) sk_attr: Option<String>,

    /// Write each batch's metrics to standard output in CloudWatch's Embedded Metric Format,
    /// in this namespace (Powertools' variable): records by model, kind and outcome, failures
    /// by reason, durations, record age. Unset: no metrics.
    #[arg(
        long,
        global = true,
        env = "POWERTOOLS_METRICS_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    pub(crate) metrics_namespace: Option<String>,

    /// The metrics' `service` dimension (Powertools' variable; default `service_undefined`).
    #[arg(
        long,
        global = true,
        env = "POWERTOOLS_SERVICE_NAME",
        value_name = "NAME"
    )]
    pub(crate) metrics_service: Option<String>,

    /// Log format (Lambda's `AWS_LAMBDA_LOG_FORMAT`).
    #[arg(
        long,
        global = true,
        env = "AWS_LAMBDA_LOG_FORMAT",
        value_enum,
        ignore_case = true,
        default_value = "text"
    )]
    pub(crate) log_format: LogFormat,

    /// Log level or filter (`info`, `debug`, `dynastream=trace`); else `RUST_LOG`, else `info`.
    #[arg(
        long,
        global = true,
        env = "AWS_LAMBDA_LOG_LEVEL",
        value_name = "LEVEL"
    )]
    pub(crate) log_level: Option<String>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the router over event files and print each record's outcome and the batch response.
    Replay(ReplayArgs),
    /// Read the table's DynamoDB stream (or, with --kinesis-stream, the Kinesis data stream its
    /// changes go to) the way Lambda's event source mapping does and run the router over it.
    #[cfg(feature = "poll")]
    Poll(PollArgs),
    /// Write the records the table's stream (or --kinesis-stream) holds to an event file for
    /// `replay` and tests.
    #[cfg(feature = "poll")]
    Record(RecordArgs),
    /// Create the DynamoDB table the router's models need (key attributes, their secondary
    /// indexes, a stream with both images).
    #[cfg(feature = "dynamodb")]
    CreateTable,
    /// Copy every item of the table into the mirror (a parallel Scan; resumable: each
    /// segment's place is saved in the mirror's database). Start `poll` (or the deployed
    /// function) first: rows the stream writes are never overwritten.
    #[cfg(feature = "mirror-tools")]
    Backfill(BackfillArgs),
    /// Compare the mirror with the table (a parallel Scan against the mirror's live rows):
    /// counts per model; items missing, tombstoned, stale or extra. Exit 0 when equal, 1 on
    /// drift. `--repair` rewrites drifted rows (a concurrent stream write always wins).
    #[cfg(feature = "mirror-tools")]
    Verify(VerifyArgs),
    /// Deliver again the records an on-failure destination names: Lambda's failure records
    /// (DDBStreamBatchInfo) from an SQS queue, S3 objects, a file or a folder. Records are
    /// read back from the stream (or from the record, when it carries the batch) and run
    /// through the router and mirror with Lambda's batch rules; a queue's message is deleted
    /// only when every one of its records was acknowledged.
    #[cfg(feature = "redrive")]
    Redrive(RedriveArgs),
    /// Print the event source mapping's FilterCriteria for the app's models (key prefixes
    /// from the patterns' leading literals, and the change kinds their handlers take), so
    /// Lambda drops records no handler wants before it bills an invocation. Refused with a
    /// mirror (it must see every item) or a fallback handler.
    FilterCriteria(FilterArgs),
    /// Serve Lambda invocations (what runs under the Lambda runtime when no command is given).
    Serve,
}

/// How `backfill` and `verify` read the table.
#[cfg(feature = "mirror-tools")]
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct ScanArgs {
    /// Segments of the parallel Scan, read at once (each on its own Postgres connection, so
    /// mind the server's max_connections). A stopped backfill resumes only with the count it
    /// began with.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) segments: u32,
    /// Strongly consistent reads (twice the read capacity; verify reads a differing item
    /// again consistently either way).
    #[arg(long)]
    pub(crate) consistent: bool,
    /// Items per Scan page at most (DynamoDB also ends a page at 1 MB).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) page_size: u32,
}

/// `verify`.
#[cfg(feature = "mirror-tools")]
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) scan: ScanArgs,
    /// Rewrite each drifted row as the table holds it (compare-and-set on the row's position:
    /// a stream write that comes first wins), then check it again.
    #[arg(long)]
    pub(crate) repair: bool,
    /// Also write every drifted item as a JSON line to this file (`-`: standard output, and
    /// the report goes to standard error).
    #[arg(long, value_name = "FILE")]
    pub(crate) jsonl: Option<PathBuf>,
    /// Compare with this store instead of a --table table (not both): `dynamodb://TABLE` or a
    /// `postgres://` URL of a Postgres store (its table from --store-table).
    #[arg(long, value_name = "STORE")]
    pub(crate) against: Option<String>,
    /// The Postgres store's table, with a `postgres://` --against (default
    /// `public.dynastream_items`).
    #[arg(long, value_name = "TABLE", requires = "against")]
    pub(crate) store_table: Option<String>,
}

/// `backfill`.
#[cfg(feature = "mirror-tools")]
#[derive(Debug, Args)]
pub(crate) struct BackfillArgs {
    #[command(flatten)]
    pub(crate) scan: ScanArgs,
    /// At most this many items per second over all segments (a cap on read capacity; at
    /// least 0.001).
    #[arg(long, value_name = "ITEMS", value_parser = rate)]
    pub(crate) max_items_per_second: Option<f64>,
    /// Forget the saved place and scan the whole table again.
    #[arg(long)]
    pub(crate) restart: bool,
    /// Read a DynamoDB export to S3 (ExportTableToPointInTime, DYNAMODB_JSON) instead of
    /// scanning the table: no read capacity. A folder holding a copy, or
    /// `s3://bucket/prefix/AWSDynamoDB/<ExportId>` (fetched into --export-dir first, resuming a
    /// fetch that stopped). With --table, the rows are written under the table's current stream.
    #[arg(long, value_name = "DIR|S3_URL")]
    pub(crate) from_export: Option<String>,
    /// Where an export read from S3 is fetched to (default `.dynastream/exports/<ExportId>`).
    #[arg(long, value_name = "DIR", requires = "from_export")]
    pub(crate) export_dir: Option<PathBuf>,
}

/// `redrive`.
#[cfg(feature = "redrive")]
#[derive(Debug, Args)]
pub(crate) struct RedriveArgs {
    /// Where the failure records are: an SQS queue URL (`https://sqs.REGION.amazonaws.com/
    /// ACCOUNT/QUEUE`, or a local server's `http://...`), `s3://BUCKET/PREFIX` (an S3
    /// destination's objects), a folder of such objects, or a file of records (JSON lines, as
    /// `poll` writes them and as saved queue messages are).
    #[arg(value_name = "SOURCE")]
    pub(crate) source: String,
    /// List what would be delivered (and what is lost) without delivering or deleting anything.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Write the records to this event file (for `replay`) instead of delivering them; nothing
    /// is deleted.
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    pub(crate) out: Option<PathBuf>,
    /// At most this many failure records (queue messages, objects, lines).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_messages: Option<u64>,
    /// Retries of a failing batch before redrive stops at its records (they stay to be
    /// redriven).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub(crate) max_retries: u32,
    /// How long a received queue message stays hidden from other readers while it is
    /// redriven, in seconds. Kept messages are made visible again when redrive ends.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(i32).range(1..=43_200))]
    pub(crate) visibility_timeout: i32,
}

/// `filter-criteria`.
#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// `json`: the mapping's FilterCriteria (`{"Filters": [...]}`, for
    /// `aws lambda update-event-source-mapping --filter-criteria`); `sam-parameters`: one
    /// `FilterPatternN=...` per line, for the template's parameters
    /// (`sam deploy --parameter-overrides $(app filter-criteria --format sam-parameters)`).
    #[arg(long, value_enum, default_value = "json")]
    pub(crate) format: FilterFormat,
}

/// How `filter-criteria` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FilterFormat {
    /// The event source mapping's FilterCriteria JSON.
    Json,
    /// The template's FilterPattern1..5 parameters.
    SamParameters,
}

/// How records of a batch run.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct RunArgs {
    /// Run up to N items' records at once (each item's records in order) instead of one record
    /// at a time.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) concurrency: Option<u32>,
}

/// `replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// Event files: a Lambda event (`{"Records": [...]}`), or `.jsonl` with one event per line
    /// (what `poll` writes for records it gave up on).
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

/// Where a shard without a checkpoint starts.
#[cfg(feature = "poll")]
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StartFrom {
    /// The oldest record the stream holds (24 hours on AWS).
    TrimHorizon,
    /// Records written from now on.
    Latest,
}

/// `poll`.
#[cfg(feature = "poll")]
#[derive(Debug, Args)]
pub(crate) struct PollArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// Read this Kinesis data stream (name or ARN) instead of the table's DynamoDB stream:
    /// the table's Kinesis Data Streams for DynamoDB destination. --table is then optional.
    #[arg(long, value_name = "STREAM")]
    pub(crate) kinesis_stream: Option<String>,
    /// Most records per invocation.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) batch_size: u32,
    /// Longest wait to fill a batch, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = window)]
    pub(crate) batching_window: f64,
    /// Retries of a failing batch before its records are given up (-1: retry forever).
    #[arg(long, value_name = "N", default_value_t = 5, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..=10_000))]
    pub(crate) max_retries: i64,
    /// Do not split a failing batch in two to isolate the failing record.
    #[arg(long)]
    pub(crate) no_bisect: bool,
    /// Records older than this many seconds when they would be invoked are given up on
    /// unprocessed, with the condition RecordAgeExceeded (MaximumRecordAgeInSeconds: 60 to
    /// 604800, or -1: never, Lambda's default).
    #[arg(long, value_name = "SECONDS", default_value_t = -1, allow_negative_numbers = true, value_parser = record_age)]
    pub(crate) max_record_age: i64,
    /// Batches of one shard invoked at once (ParallelizationFactor): records go to a batch by
    /// their item's keys, so each item's records stay in order.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub(crate) parallelization_factor: u32,
    /// Where a shard without a checkpoint starts.
    #[arg(long, value_enum, default_value = "trim-horizon")]
    pub(crate) from: StartFrom,
    /// The checkpoint file (default `.dynastream/<table>.checkpoints.json`).
    #[arg(long, value_name = "FILE")]
    pub(crate) checkpoint: Option<PathBuf>,
    /// Keep checkpoints in the mirror's database (`<mirror table>_checkpoints`).
    #[cfg(feature = "postgres")]
    #[arg(long, conflicts_with = "checkpoint")]
    pub(crate) checkpoint_in_mirror: bool,
    /// Where records given up on are appended, one event per line (default
    /// `.dynastream/<table>.failed.jsonl`); `replay` delivers them again.
    #[arg(long, value_name = "FILE")]
    pub(crate) on_failure: Option<PathBuf>,
    /// Stop once every shard is caught up instead of waiting for new records.
    #[arg(long)]
    pub(crate) until_idle: bool,
    /// Print progress and failures only, not every record.
    #[arg(long)]
    pub(crate) quiet: bool,
}

#[cfg(feature = "mirror-tools")]
fn rate(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of items per second"))?;
    if v.is_finite() && v >= 0.001 {
        Ok(v)
    } else {
        Err("takes a number of items per second, at least 0.001".into())
    }
}

/// Lambda's MaximumRecordAgeInSeconds: -1, or 60 to 604,800.
#[cfg(feature = "poll")]
fn record_age(s: &str) -> Result<i64, String> {
    let v: i64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v == -1 || (60..=604_800).contains(&v) {
        Ok(v)
    } else {
        Err("takes -1 (never) or 60 to 604800 seconds, as Lambda does".into())
    }
}

#[cfg(feature = "poll")]
fn window(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if (0.0..=300.0).contains(&v) {
        Ok(v)
    } else {
        Err("takes 0 to 300 seconds".into())
    }
}

/// `record`.
#[cfg(feature = "poll")]
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// Record this Kinesis data stream (name or ARN; the table's Kinesis Data Streams for
    /// DynamoDB destination) instead of the table's DynamoDB stream: the file is a Kinesis
    /// event, as Lambda delivers it. --table is then optional.
    #[arg(long, value_name = "STREAM")]
    pub(crate) kinesis_stream: Option<String>,
    /// The event file to write.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Keep only the last N records.
    #[arg(long, value_name = "N")]
    pub(crate) last: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
