//! The example app's models: a task board, stories, user profiles and orders, all in one table
//! keyed by `PK` / `SK`.
//!
//! ```
//! use dynastream::ModelKey;
//! use dynastream_example_models::OrderLineKey;
//! let key = OrderLineKey { order_id: "o-1".into(), line: 7 };
//! assert_eq!((key.pk().unwrap(), key.sk().unwrap()), ("ORDER#o-1".into(), "LINE#0007".into()));
//! assert!(OrderLineKey { order_id: "o-1".into(), line: 12345 }.sk().is_err()); // wider than {line:04}
//! ```

#![forbid(unsafe_code)]

#[cfg(feature = "sample")]
pub mod sample;

use std::collections::BTreeSet;

use dynastream::Model;
pub use dynastream::Number;
use serde::{Deserialize, Serialize};

/// A task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskStatus {
    /// Not done.
    Open,
    /// Done.
    Closed,
}

/// A task on a user's board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "#TASK#{owner}", sk = "#TASK#{task_id}")]
pub struct Task {
    /// The owning user.
    pub owner: String,
    /// The task's id.
    pub task_id: String,
    /// What to do.
    pub title: String,
    /// OPEN or CLOSED.
    #[dynastream(sql = "text")]
    pub status: TaskStatus,
}

/// A user's board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "#BOARD#{owner}", sk = "#BOARD#{board_id}")]
pub struct Board {
    /// The owning user.
    pub owner: String,
    /// The board's id.
    pub board_id: String,
    /// The board's name.
    pub name: String,
    /// How many tasks the board holds.
    pub task_count: i64,
}

/// A story a user wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "USER#{owner}#STORY#{story_id}", sk = "STORY#{story_id}")]
pub struct Story {
    /// The author.
    pub owner: String,
    /// The story's id.
    pub story_id: String,
    /// The title.
    pub title: String,
    /// The text (empty when not stored).
    #[serde(default)]
    pub content: String,
    /// Tags (a DynamoDB string set).
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// Number of words.
    pub word_count: i64,
}

/// A user's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "USER#{owner}", sk = "PROFILE")]
pub struct UserProfile {
    /// The user.
    pub owner: String,
    /// Shown name.
    pub display_name: String,
    /// Contact address.
    pub email: String,
    /// Age, when given.
    #[serde(default)]
    pub age: Option<i64>,
}

/// One line of an order; lines sort numerically because the line number is zero-padded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "ORDER#{order_id}", sk = "LINE#{line:04}")]
pub struct OrderLine {
    /// The order.
    pub order_id: String,
    /// The line number (1..=9999).
    pub line: u32,
    /// The product.
    pub sku: String,
    /// Quantity.
    pub qty: u32,
    /// Price per unit, exact: any DynamoDB number (38 significant digits), never rounded.
    pub unit_price: Number,
}
