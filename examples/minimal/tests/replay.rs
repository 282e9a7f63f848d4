//! The minimal app, built and run as a user would: `replay` over its sample event, `--help`.

use std::process::Command;

fn minimal(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dynastream-minimal"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("RUST_LOG", "off")
        .output()
        .expect("the minimal app runs")
}

#[test]
fn replay_runs_the_handler_for_every_record() {
    let out = minimal(&["replay", "events/note.json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("note n1: INSERT Some(\"Buy milk\")"),
        "{stdout}"
    );
    assert!(
        stdout.contains("note n1: MODIFY Some(\"Buy oat milk\")"),
        "{stdout}"
    );
    assert!(stdout.contains("note n1: REMOVE None"), "{stdout}");
    assert!(
        stdout.contains(r#"response: {"batchItemFailures":[]}"#),
        "{stdout}"
    );
}

#[test]
fn help_is_the_apps_own() {
    let out = minimal(&["--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("Usage: dynastream-minimal"), "{stdout}");
    assert!(stdout.contains("\n  replay "), "{stdout}");
    // (Which other commands it lists depends on dynastream's features, which a workspace
    // build unifies across its members: not asserted here.)
    let out = minimal(&[]);
    assert_eq!(out.status.code(), Some(2));
    let out = minimal(&["--version"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the minimal app sets no version"
    );
}
