//! `handler seed`: this app's own command, added to the entry point's with
//! [`App::command`](dynastream::app::App::command).

use std::process::ExitCode;

use dynastream::app::{AppStore, Setup};
use dynastream::store::Store;
use dynastream::BoxError;
use dynastream_example_models::{
    Board, Number, OrderLine, Story, Task, TaskKey, TaskStatus, UserProfile,
};

/// The example app's commands.
#[derive(Debug, clap::Subcommand)]
pub enum Extra {
    /// Write example items to the store (--table TABLE): a board, tasks, a profile, a story and
    /// an order line, then close one task and delete another.
    Seed {
        /// Also write this many generated user profiles (`user-000001`, ...), in batches: a
        /// table worth a backfill.
        #[arg(long, value_name = "N", default_value_t = 0)]
        profiles: usize,
    },
}

pub async fn run(cmd: Extra, setup: Setup) -> Result<ExitCode, BoxError> {
    let Extra::Seed { profiles } = cmd;
    let Some(store) = setup.store else {
        return Err("seed needs a store: --table TABLE (or --store)".into());
    };
    let target = store.describe();
    seed(&store)
        .await
        .map_err(|e| format!("writing to {target}: {e}"))?;
    generated(&store, profiles)
        .await
        .map_err(|e| format!("writing to {target}: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// `n` generated profiles, 500 per batch save.
async fn generated(store: &AppStore, n: usize) -> Result<(), BoxError> {
    let mut written = 0;
    while written < n {
        let batch: Vec<UserProfile> = (written..n.min(written + 500))
            .map(|i| UserProfile {
                owner: format!("user-{:06}", i + 1),
                display_name: format!("User {}", i + 1),
                email: format!("user{}@example.com", i + 1),
                age: Some(18 + (i % 60) as i64),
            })
            .collect();
        store.batch_save(&batch).await?;
        written += batch.len();
        println!("saved {written} of {n} generated UserProfiles");
    }
    Ok(())
}

async fn seed(store: &AppStore) -> Result<(), BoxError> {
    let task = |id: &str, title: &str, status| Task {
        owner: "ann".into(),
        task_id: id.into(),
        title: title.into(),
        status,
    };
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
            unit_price: "19.99".parse::<Number>()?,
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
