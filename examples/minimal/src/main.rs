//! The smallest dynastream app: one model, one handler, and a `main` on the app entry point.
//!
//! `cargo run -p dynastream-minimal -- replay examples/minimal/events/note.json` runs it over
//! an event file; under the Lambda runtime the same binary serves invocations.

#![forbid(unsafe_code)]

use dynastream::app::{App, Setup};
use dynastream::{Change, Context, Model, Router};
use serde::Deserialize;

/// A note, stored under `pk = "NOTE#<id>"`, `sk = "NOTE"`.
#[derive(Debug, Deserialize, Model)]
#[dynastream(pk = "NOTE#{id}", sk = "NOTE")]
struct Note {
    id: String,
    text: String,
}

/// Called once per change of a note, in stream order.
async fn on_note(change: Change<Note>, _ctx: Context<()>) -> Result<(), std::io::Error> {
    let text = change.new_image().map(|n| n.text.as_str());
    println!("note {}: {} {:?}", change.key.id, change.kind(), text);
    Ok(())
}

fn main() -> std::process::ExitCode {
    App::new(|_: Setup| Router::builder(()).on::<Note, _>(on_note)).run()
}
