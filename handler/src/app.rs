//! The example app: one handler per model, each logging the typed values it receives.

use dynastream::mirror::MirrorConfig;
use dynastream::{Change, ChangeKind, Context, Op, RegistryError, Router};
use dynastream_example_models::{Board, Decimal, OrderLine, Story, Task, UserProfile};

/// Shared state of the example app (none yet: handlers only log).
#[derive(Debug, Default)]
pub struct AppState;

type Result = std::result::Result<(), std::convert::Infallible>;

async fn task(change: Change<Task>, _ctx: Context<AppState>) -> Result {
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
        Op::Remove { .. } if change.is_ttl_expiry() => {
            tracing::info!(key = ?change.key, "task expired (TTL)")
        }
        op => tracing::info!(key = ?change.key, ?op, "task changed"),
    }
    Ok(())
}

async fn board(change: Change<Board>, _ctx: Context<AppState>) -> Result {
    tracing::info!(kind = %change.kind(), key = ?change.key, board = ?change.new_image().or(change.old_image()), "board changed");
    Ok(())
}

async fn story(change: Change<Story>, _ctx: Context<AppState>) -> Result {
    if !change.is_current_schema() {
        tracing::warn!(stored = ?change.stored_schema_version, "story's stored schema_version is not this model's");
    }
    if let Some(s) = change.new_image() {
        tracing::info!(kind = %change.kind(), owner = %s.owner, story_id = %s.story_id, title = %s.title, tags = ?s.tags, word_count = s.word_count, "story");
    } else {
        tracing::info!(kind = %change.kind(), key = ?change.key, "story without new image");
    }
    Ok(())
}

async fn profile_removed(change: Change<UserProfile>, _ctx: Context<AppState>) -> Result {
    tracing::info!(owner = %change.key.owner, old = ?change.old_image(), "profile deleted");
    Ok(())
}

async fn profile_saved(change: Change<UserProfile>, _ctx: Context<AppState>) -> Result {
    let p = change.new_image();
    tracing::info!(kind = %change.kind(), owner = %change.key.owner, display_name = ?p.map(|p| &p.display_name), age = ?p.and_then(|p| p.age), "profile saved");
    Ok(())
}

async fn order_line(change: Change<OrderLine>, _ctx: Context<AppState>) -> Result {
    let total = change
        .new_image()
        .map(|l| l.unit_price * Decimal::from(l.qty));
    tracing::info!(kind = %change.kind(), order = %change.key.order_id, line = change.key.line, line_total = ?total, "order line");
    Ok(())
}

/// The example app's router, mirroring into Postgres when `mirror` is given.
pub fn router(
    concurrency: dynastream::Concurrency,
    mirror: Option<MirrorConfig>,
) -> std::result::Result<Router<AppState>, RegistryError> {
    let builder = Router::builder(AppState);
    let builder = match mirror {
        Some(m) => builder.mirror(m),
        None => builder,
    };
    builder
        .on::<Task, _>(task)
        .on::<Board, _>(board)
        .on::<Story, _>(story)
        .on_kind::<UserProfile, _>(ChangeKind::Insert, profile_saved)
        .on_kind::<UserProfile, _>(ChangeKind::Modify, profile_saved)
        .on_kind::<UserProfile, _>(ChangeKind::Remove, profile_removed)
        .on::<OrderLine, _>(order_line)
        .concurrency(concurrency)
        .build()
}
