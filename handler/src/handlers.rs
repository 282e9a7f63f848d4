//! The example app: one handler per model, each logging the typed values it receives. With a
//! store, the task handler also keeps every board's `task_count` equal to its owner's number of
//! tasks.

use dynastream::app::{AppStore, Setup};
use dynastream::store::{Query, Store, StoreError};
use dynastream::{BoxError, Change, ChangeKind, Context, Op, Router, RouterBuilder};
use dynastream_example_models::{
    Board, BoardKeyPrefix, Number, OrderLine, Story, Task, TaskKeyPrefix, UserProfile,
};
use futures_util::TryStreamExt as _;

/// Shared state of the example app.
#[derive(Debug, Default)]
pub struct AppState {
    /// The store, when one is configured (`--table`, `--store`, `TABLE_NAME`). With a
    /// Postgres store on the mirror's table, the tasks the mirror writes are the ones counted.
    pub store: Option<AppStore>,
}

type Result = std::result::Result<(), BoxError>;

/// Sets `task_count` on each of `owner`'s boards to the number of `owner`'s tasks. A recount
/// rather than an increment: a batch Lambda delivers again (at least once) cannot count twice.
/// Returns how many boards changed.
pub async fn recount_tasks<S: Store>(
    store: &S,
    owner: &str,
) -> std::result::Result<usize, StoreError> {
    let tasks = Query::new(TaskKeyPrefix {
        owner: Some(owner.to_string()),
        ..Default::default()
    });
    let count: i64 = store
        .query(tasks)
        .try_fold(0i64, |n, _| async move { Ok(n + 1) })
        .await?;
    let boards: Vec<Board> = store
        .query(Query::new(BoardKeyPrefix {
            owner: Some(owner.to_string()),
            ..Default::default()
        }))
        .try_collect()
        .await?;
    let mut changed = 0;
    for mut b in boards {
        if b.task_count != count {
            tracing::info!(owner, board_id = %b.board_id, from = b.task_count, to = count, "board task_count updated");
            b.task_count = count;
            store.save(&b).await?;
            changed += 1;
        }
    }
    Ok(changed)
}

async fn task(change: Change<Task>, ctx: Context<AppState>) -> Result {
    log_task(&change);
    // Only inserts and removes change how many tasks an owner has.
    if change.kind() != ChangeKind::Modify {
        let owner = &change.key.owner;
        if let Some(store) = &ctx.state().store {
            recount_tasks(store, owner).await?;
        }
    }
    Ok(())
}

fn log_task(change: &Change<Task>) {
    match &change.op {
        Op::Insert { new: Some(t) } => {
            tracing::info!(owner = %t.owner, task_id = %t.task_id, title = %t.title, status = ?t.status, "task created")
        }
        Op::Modify {
            old: Some(o),
            new: Some(n),
        } if o.status != n.status => {
            tracing::info!(task_id = %n.task_id, from = ?o.status, to = ?n.status, "task status changed")
        }
        Op::Remove { old } => {
            tracing::info!(key = ?change.key, ttl = change.is_ttl_expiry(), old = ?old, "task removed")
        }
        op => tracing::info!(key = ?change.key, ?op, "task changed"),
    }
}

async fn board(change: Change<Board>, _ctx: Context<AppState>) -> Result {
    tracing::info!(kind = %change.kind(), key = ?change.key, ttl = change.is_ttl_expiry(), board = ?change.new_image().or(change.old_image()), "board changed");
    Ok(())
}

async fn story(change: Change<Story>, _ctx: Context<AppState>) -> Result {
    if !change.is_current_schema() {
        tracing::warn!(stored = ?change.stored_schema_version, "story's stored schema_version is not this model's");
    }
    if let Some(s) = change.new_image() {
        tracing::info!(kind = %change.kind(), owner = %s.owner, story_id = %s.story_id, title = %s.title, tags = ?s.tags, word_count = s.word_count, "story");
    } else {
        tracing::info!(kind = %change.kind(), key = ?change.key, ttl = change.is_ttl_expiry(), old = ?change.old_image(), "story without new image");
    }
    Ok(())
}

async fn profile_removed(change: Change<UserProfile>, _ctx: Context<AppState>) -> Result {
    tracing::info!(owner = %change.key.owner, ttl = change.is_ttl_expiry(), old = ?change.old_image(), "profile deleted");
    Ok(())
}

async fn profile_saved(change: Change<UserProfile>, _ctx: Context<AppState>) -> Result {
    let p = change.new_image();
    tracing::info!(kind = %change.kind(), owner = %change.key.owner, display_name = ?p.map(|p| &p.display_name), age = ?p.and_then(|p| p.age), "profile saved");
    Ok(())
}

async fn order_line(change: Change<OrderLine>, _ctx: Context<AppState>) -> Result {
    match change.new_image() {
        Some(l) => {
            // Exact: a product beyond 38 significant digits is no DynamoDB number, and is said
            // so rather than rounded (or a panic, as `*` on a fixed-width type would be).
            let total = l.unit_price.checked_mul(&Number::from(l.qty));
            tracing::info!(
                kind = %change.kind(), order = %change.key.order_id, line = change.key.line,
                sku = %l.sku, qty = l.qty, unit_price = %l.unit_price,
                line_total = %total.map_or_else(|| "beyond 38 significant digits".to_string(), |t| t.to_string()),
                "order line"
            );
        }
        None => {
            tracing::info!(kind = %change.kind(), order = %change.key.order_id, line = change.key.line, ttl = change.is_ttl_expiry(), old = ?change.old_image(), "order line (no new image)")
        }
    }
    Ok(())
}

/// The example app's router: a handler per model, the store (if configured) in the state.
/// The entry point adds the mirror and the concurrency the command line asks for.
pub fn router(setup: Setup) -> RouterBuilder<AppState> {
    Router::builder(AppState { store: setup.store })
        .on::<Task, _>(task)
        .on::<Board, _>(board)
        .on::<Story, _>(story)
        .on_kind::<UserProfile, _>(ChangeKind::Insert, profile_saved)
        .on_kind::<UserProfile, _>(ChangeKind::Modify, profile_saved)
        .on_kind::<UserProfile, _>(ChangeKind::Remove, profile_removed)
        .on::<OrderLine, _>(order_line)
}
