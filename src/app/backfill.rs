//! `backfill` and `verify`: the commands that read the whole DynamoDB table against the mirror.

use std::process::ExitCode;
use std::time::Duration;

use dynastream_core::BoxError;

use super::cli::{BackfillArgs, Global};
use super::commands::stream::table;
use super::commands::{build, StoreUse};
use super::{doing, BuildFn};
use crate::dynamodb::DynamoStore;
use crate::postgres::{BackfillOptions, BackfillProgress, Mirror};

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

/// A progress bar over `estimate` items (a spinner when the table's size is unknown).
fn bar(what: &str, estimate: Option<u64>) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(estimate, indicatif::ProgressDrawTarget::stderr());
    let template = match estimate {
        Some(_) => "{bar:30} {pos}/~{len} items {msg} ({per_sec}, {elapsed}, about {eta} left)",
        None => "{spinner} {pos} items {msg} ({per_sec}, {elapsed})",
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub(crate) async fn backfill<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
    a: BackfillArgs,
) -> Result<ExitCode, BoxError> {
    let table = table(g)?.to_string();
    let mirror = mirror(f, g, "backfill").await?;
    let source = DynamoStore::from_env(table.clone(), g.endpoint_url.as_deref()).await;
    let options = BackfillOptions::new()
        .segments(a.segments)
        .consistent(a.consistent)
        .page_size(a.page_size as usize)
        .max_items_per_second(a.max_items_per_second)
        .restart(a.restart);
    println!(
        "backfilling {} from table {table} ({} segments)",
        mirror.config().qualified_table(),
        a.segments
    );
    let progress: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);
    let on_progress = |p: BackfillProgress| {
        if let Ok(mut slot) = progress.lock() {
            let bar = slot.get_or_insert_with(|| bar("read", p.estimate.map(|e| e.max(p.items))));
            if bar.length().is_some_and(|l| p.items > l) {
                bar.set_length(p.items);
            }
            bar.set_position(p.items);
            bar.set_message(format!(
                "read, {}/{} segments done",
                p.segments_done, p.segments
            ));
        }
    };
    let result = mirror.backfill(&source, &options, &on_progress).await;
    if let Ok(mut slot) = progress.lock() {
        if let Some(bar) = slot.take() {
            bar.finish_and_clear();
        }
    }
    let summary = result.map_err(doing(format!(
        "backfill of {table} stopped (run the same command again to resume)"
    )))?;
    if summary.already_done {
        println!(
            "a backfill of table {table} into {} already finished: nothing to do (--restart scans the table again)",
            mirror.config().qualified_table()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let secs = summary.elapsed.as_secs_f64();
    println!(
        "backfilled {} items from {table}{} in {secs:.1} s ({:.0} items/s): {} rows written, {} already held by newer stream rows; stream label {:?}",
        summary.items,
        if summary.resumed {
            format!(" ({} in this run, resumed)", summary.items_this_run)
        } else {
            String::new()
        },
        summary.items_this_run as f64 / secs.max(1e-9),
        summary.rows_written,
        summary.items_this_run.saturating_sub(summary.rows_written + summary.refused.len() as u64),
        summary.stream_label,
    );
    if summary.stream_label.is_empty() {
        println!("note: table {table} has no stream, so the mirror cannot follow its changes; enable one (NEW_AND_OLD_IMAGES) and run poll or the deployed function");
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
