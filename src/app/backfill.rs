//! `backfill` and `verify`: the commands that read the whole DynamoDB table against the mirror.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use dynastream_core::BoxError;

use super::cli::{BackfillArgs, Global, VerifyArgs};
use super::commands::stream::table;
use super::commands::{build, StoreUse};
use super::{doing, BuildFn};
use crate::dynamodb::DynamoStore;
use crate::postgres::{
    BackfillOptions, BackfillProgress, Drift, Mirror, VerifyOptions, VerifyProgress,
};
use crate::store::TableScan;

/// The app's mirror, with the router's models (entities, views, schema versions).
async fn mirror<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
    command: &str,
) -> Result<std::sync::Arc<Mirror>, BoxError> {
    let built = build(f, g, None, StoreUse::Explicit).await?;
    built.mirror.ok_or_else(|| {
        format!("{command} needs --mirror (MIRROR_URL): the mirror's database").into()
    })
}

/// A progress bar over `estimate` items (a spinner when the table's size is unknown), starting
/// at `start` (a resumed run's items so far), with a rate and a time left of this run's own.
struct Bar {
    bar: indicatif::ProgressBar,
    start: u64,
    begun: std::time::Instant,
}

impl Bar {
    fn new(estimate: Option<u64>, start: u64) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            estimate.map(|e| e.max(start)),
            indicatif::ProgressDrawTarget::stderr(),
        )
        .with_position(start);
        let template = match estimate {
            Some(_) => "{bar:30} {pos}/~{len} items {msg} ({elapsed})",
            None => "{spinner} {pos} items {msg} ({elapsed})",
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar {
            bar,
            start,
            begun: std::time::Instant::now(),
        }
    }

    fn update(&self, items: u64, what: String) {
        if self.bar.length().is_some_and(|l| items > l) {
            self.bar.set_length(items);
        }
        self.bar.set_position(items);
        let secs = self.begun.elapsed().as_secs_f64();
        let rate = items.saturating_sub(self.start) as f64 / secs.max(1e-3);
        let left = match self.bar.length() {
            Some(len) if rate > 0.0 && len > items => {
                format!(", about {:.0} s left", (len - items) as f64 / rate)
            }
            _ => String::new(),
        };
        self.bar
            .set_message(format!("{what}, {rate:.0} items/s{left}"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Whether running the command again can get further: not for a refusal of the set-up (other
/// keys, another table, a segment count), nor for a table that does not exist.
fn resumable(e: &crate::postgres::MirrorError) -> bool {
    use crate::postgres::MirrorError as E;
    match e {
        E::Config(_) => false,
        E::Source { source, .. } => {
            !matches!(**source, crate::store::StoreError::TableMissing { .. })
        }
        _ => true,
    }
}

/// `n thing` or `n things`.
fn count(n: u64, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// Fetches an export from S3 into `dir` (default `.dynastream/exports/<last part of the
/// prefix>`), with a progress bar over its files.
async fn fetch(
    g: &Global,
    url: &crate::dynamodb::S3ExportUrl,
    dir: Option<&std::path::Path>,
) -> Result<std::path::PathBuf, BoxError> {
    let dir = dir.map(std::path::Path::to_path_buf).unwrap_or_else(|| {
        let id = url
            .prefix
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or(&url.bucket);
        std::path::PathBuf::from(".dynastream/exports").join(id)
    });
    println!(
        "fetching s3://{}/{} into {}",
        url.bucket,
        url.prefix,
        dir.display()
    );
    let client = crate::dynamodb::s3_client(g.endpoint_url.as_deref()).await;
    let bar = std::sync::Mutex::new(None::<indicatif::ProgressBar>);
    let on_file = |done: usize, total: usize| {
        if let Ok(mut slot) = bar.lock() {
            let b = slot.get_or_insert_with(|| {
                let b = indicatif::ProgressBar::with_draw_target(
                    Some(total as u64),
                    indicatif::ProgressDrawTarget::stderr(),
                );
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} data files fetched ({elapsed})",
                ) {
                    b.set_style(style);
                }
                b
            });
            b.set_position(done as u64);
        }
    };
    let result = crate::dynamodb::fetch_export(&client, url, &dir, &on_file).await;
    if let Ok(mut slot) = bar.lock() {
        if let Some(b) = slot.take() {
            b.finish_and_clear();
        }
    }
    result.map_err(doing("fetching the export (run again to resume)"))
}

pub(crate) async fn backfill<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
    a: BackfillArgs,
) -> Result<ExitCode, BoxError> {
    let mirror = mirror(f, g, "backfill").await?;
    let mut options = BackfillOptions::new()
        .segments(a.scan.segments)
        .consistent(a.scan.consistent)
        .page_size(a.scan.page_size as usize)
        .max_items_per_second(a.max_items_per_second)
        .restart(a.restart);
    let (table, source): (String, Box<dyn TableScan>) = match &a.from_export {
        None => {
            let table = table(g)?.to_string();
            let store = DynamoStore::from_env(table.clone(), g.endpoint_url.as_deref()).await;
            (format!("table {table}"), Box::new(store))
        }
        Some(from) => {
            let dir = match crate::dynamodb::S3ExportUrl::parse(from) {
                None => std::path::PathBuf::from(from),
                Some(url) => fetch(g, &url, a.export_dir.as_deref()).await?,
            };
            let (pk, sk) = mirror.key_attributes();
            let export = crate::store::ExportFolder::open(&dir, pk, sk)
                .map_err(doing(format!("reading the export in {}", dir.display())))?;
            if let Some(t) = g.table.as_deref().filter(|t| !t.is_empty()) {
                let store = DynamoStore::from_env(t, g.endpoint_url.as_deref()).await;
                let info = store
                    .describe()
                    .await
                    .map_err(doing(format!("describing table {t} for its stream")))?;
                let exported = export
                    .describe()
                    .await
                    .map_err(doing("reading the export's summary"))?;
                if let (Some(table_arn), Some(export_arn)) = (&info.arn, &exported.arn) {
                    if table_arn != export_arn {
                        return Err(format!(
                            "the export is of {export_arn}, but --table {t} is {table_arn}: give the table the export was taken of"
                        )
                        .into());
                    }
                }
                options = options.stream_arn(info.latest_stream_arn);
            }
            let what = format!(
                "the export in {} ({} data files{})",
                export.folder().display(),
                export.data_files(),
                export
                    .export_time()
                    .map(|t| format!(", taken {t}"))
                    .unwrap_or_default()
            );
            (what, Box::new(export))
        }
    };
    println!(
        "backfilling {} from {table} ({} segments)",
        mirror.config().qualified_table(),
        a.scan.segments
    );
    let progress: std::sync::Mutex<Option<Bar>> = std::sync::Mutex::new(None);
    let on_progress = |p: BackfillProgress| {
        if let Ok(mut slot) = progress.lock() {
            let bar = slot.get_or_insert_with(|| Bar::new(p.estimate, p.items));
            bar.update(
                p.items,
                format!("read, {}/{} segments done", p.segments_done, p.segments),
            );
        }
    };
    // Ctrl-C stops at once: every page is written with its cursor in one statement, so what
    // was written is kept and a run of the same command continues after it.
    let result = tokio::select! {
        r = mirror.backfill(&*source, &options, &on_progress) => r,
        _ = tokio::signal::ctrl_c() => {
            if let Ok(mut slot) = progress.lock() {
                if let Some(bar) = slot.take() {
                    bar.finish();
                }
            }
            eprintln!("stopped: every page read so far is in the mirror with its place; run the same command to continue");
            return Ok(ExitCode::from(130));
        }
    };
    if let Ok(mut slot) = progress.lock() {
        if let Some(bar) = slot.take() {
            bar.finish();
        }
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) if resumable(&e) => {
            return Err(doing(format!(
                "backfill from {table} stopped (run the same command again to continue)"
            ))(e))
        }
        Err(e) => return Err(doing(format!("backfill from {table}"))(e)),
    };
    if summary.already_done {
        println!(
            "a backfill of {table} into {} already finished: nothing to do (--restart reads it again)",
            mirror.config().qualified_table()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let secs = summary.elapsed.as_secs_f64();
    println!(
        "backfilled {} from {table}{} in {secs:.1} s ({:.0} items/s): {} written, {} already held by newer stream rows; stream label {:?}",
        count(summary.items, "item"),
        if summary.resumed {
            format!(" ({} in this run, resumed)", summary.items_this_run)
        } else {
            String::new()
        },
        summary.items_this_run as f64 / secs.max(1e-9),
        count(summary.rows_written, "row"),
        summary.items_this_run.saturating_sub(summary.rows_written + summary.refused.len() as u64),
        summary.stream_label,
    );
    if summary.stream_label.is_empty() {
        println!("note: no stream named (an export without --table, or a table without a stream): the rows are earlier than any stream's records; the mirror follows changes only from a stream (NEW_AND_OLD_IMAGES) run by poll or the deployed function");
    }
    for r in &summary.refused {
        println!("not mirrored: item {:?} / {:?}: {}", r.pk, r.sk, r.reason);
    }
    Ok(if summary.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!(
            "{} item(s) could not be mirrored (listed above)",
            summary.refused.len()
        );
        ExitCode::from(1)
    })
}

/// The table `verify` compares with: `--against`, else `--table`.
async fn verify_source(
    g: &Global,
    a: &VerifyArgs,
) -> Result<(String, Box<dyn TableScan>), BoxError> {
    match a.against.as_deref() {
        None => {
            let table = table(g)?.to_string();
            let store = DynamoStore::from_env(table.clone(), g.endpoint_url.as_deref()).await;
            Ok((format!("table {table}"), Box::new(store)))
        }
        Some(spec) => {
            if let Some(table) = spec.strip_prefix("dynamodb://").filter(|t| !t.is_empty()) {
                let store = DynamoStore::from_env(table, g.endpoint_url.as_deref()).await;
                return Ok((format!("table {table}"), Box::new(store)));
            }
            if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
                let mut config = crate::postgres::MirrorConfig::new(spec)?;
                if let Some(t) = &a.store_table {
                    config = config.table(t)?;
                }
                let name = config.qualified_table();
                let store = crate::postgres::PgStore::connect(&config).await?;
                return Ok((format!("Postgres store {name}"), Box::new(store)));
            }
            Err(
                format!("--against takes dynamodb://TABLE or a postgres:// URL, not {spec:?}")
                    .into(),
            )
        }
    }
}

pub(crate) async fn verify<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
    a: VerifyArgs,
) -> Result<ExitCode, BoxError> {
    // With the drift as JSON lines on standard output, the report goes to standard error.
    let to_stderr = a.jsonl.as_deref().is_some_and(|p| p.as_os_str() == "-");
    macro_rules! say {
        ($($t:tt)*) => {
            if to_stderr { eprintln!($($t)*) } else { println!($($t)*) }
        };
    }
    if a.against.is_some() && g.table.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err("verify takes --table or --against, not both (--against names the table to compare with)".into());
    }
    let mirror = mirror(f, g, "verify").await?;
    let (what, source) = verify_source(g, &a).await?;
    let options = VerifyOptions::new()
        .segments(a.scan.segments)
        .consistent(a.scan.consistent)
        .page_size(a.scan.page_size as usize)
        .repair(a.repair);
    say!(
        "verifying {} against {what} ({} segments{})",
        mirror.config().qualified_table(),
        a.scan.segments,
        if a.repair { ", repairing" } else { "" }
    );
    let mut jsonl: Option<Box<dyn std::io::Write + Send>> = match a.jsonl.as_deref() {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(doing(p.display().to_string()))?,
        ))),
    };
    let lines = std::sync::Mutex::new((&mut jsonl, None::<std::io::Error>, false));
    let on_drift = |d: &Drift| {
        let Ok(mut slot) = lines.lock() else { return };
        let (out, failed, out_gone) = &mut *slot;
        if let (Some(out), None, false) = (out.as_mut(), failed.as_ref(), *out_gone) {
            let line = serde_json::json!({
                "kind": d.kind.as_str(),
                "pk": d.pk,
                "sk": d.sk,
                "table": d.table.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()),
                "mirror": d.mirror.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()),
                "repaired": d.repaired,
            });
            match writeln!(out, "{line}") {
                Ok(()) => {}
                // The reader stopped (`| head`): no more lines, the verify goes on.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => *out_gone = true,
                Err(e) => *failed = Some(e),
            }
        }
    };
    let progress: std::sync::Mutex<Option<Bar>> = std::sync::Mutex::new(None);
    let on_progress = |p: VerifyProgress| {
        if let Ok(mut slot) = progress.lock() {
            let bar = slot.get_or_insert_with(|| Bar::new(p.estimate, 0));
            bar.update(p.items, format!("scanned, {} drifted", p.drifted));
        }
    };
    let result = mirror
        .verify(&*source, &options, &on_drift, &on_progress)
        .await;
    if let Ok(mut slot) = progress.lock() {
        if let Some(bar) = slot.take() {
            bar.finish();
        }
    }
    let report = result.map_err(doing("verify stopped"))?;
    let (_, failed, out_gone) = lines.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = failed {
        return Err(doing("writing --jsonl")(e));
    }
    if let Some(out) = jsonl.as_mut().filter(|_| !out_gone) {
        match out.flush() {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(doing("writing --jsonl")(e))
            }
            _ => {}
        }
    }
    say!(
        "{} items scanned in {:.1} s",
        report.items,
        report.elapsed.as_secs_f64()
    );
    say!("{:<24} {:>12} {:>12}", "model", "table", "mirror");
    for (entity, n) in &report.entities {
        say!(
            "{:<24} {:>12} {:>12}{}",
            entity.as_deref().unwrap_or("(no model)"),
            n.table,
            n.mirror,
            if n.table == n.mirror { "" } else { "  differs" }
        );
    }
    for d in &report.listed {
        say!(
            "{}: {:?} / {:?}{}",
            d.kind.as_str(),
            d.pk,
            d.sk,
            match d.repaired {
                Some(true) => " (repaired)",
                Some(false) => " (not repaired: a stream write came first; verify again)",
                None => "",
            }
        );
    }
    let drifted = report.drifted();
    if drifted > report.listed.len() as u64 {
        say!(
            "... and {} more (all in --jsonl)",
            drifted - report.listed.len() as u64
        );
    }
    if report.changed_during_scan > 0 {
        say!(
            "{} item(s) changed during the scan and read equal when read again",
            report.changed_during_scan
        );
    }
    if report.cannot_hold > 0 {
        say!(
            "{} item(s) of the table cannot be held by the mirror (U+0000 in a string, a number beyond numeric; see the log) and were not compared",
            report.cannot_hold
        );
    }
    let kinds: Vec<String> = report
        .drift
        .iter()
        .map(|(k, n)| format!("{n} {}", k.as_str()))
        .collect();
    if drifted == 0 {
        say!("equal: the mirror holds every item of {what} and nothing else");
        return Ok(ExitCode::SUCCESS);
    }
    say!("drift: {} ({})", drifted, kinds.join(", "));
    if a.repair {
        say!(
            "repaired {} of {drifted}{}",
            report.repaired,
            if report.lost_to_stream > 0 {
                format!(
                    "; {} lost to a stream write (run verify again)",
                    report.lost_to_stream
                )
            } else {
                String::new()
            }
        );
        if report.equal() {
            return Ok(ExitCode::SUCCESS);
        }
    } else {
        say!("run verify --repair to rewrite the drifted rows");
    }
    Ok(ExitCode::from(1))
}
