//! Each crate's dependency graph holds what its seam says, read with `cargo tree` (normal
//! dependencies, as an app or a Lambda build gets them): the core without the store, the
//! poller, the AWS SDK or Postgres; the store and the poller without each other or a service
//! client; each backend with its own client only; the front door with nothing it was not asked
//! for.

use std::collections::BTreeSet;
use std::process::Command;

/// The packages in the normal-dependency graph of `package` with `features` (its defaults
/// off when `no_default` is set).
fn graph(package: &str, features: &str, no_default: bool) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "tree", "-p", package, "-e", "normal", "--prefix", "none", "--locked",
    ])
    .args(["--format", "{p}"])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if no_default {
        cmd.arg("--no-default-features");
    }
    if !features.is_empty() {
        cmd.args(["--features", features]);
    }
    let out = cmd.output().expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Whether a package of the graph is one of the kind `prefix` names ([`AWS`] for the AWS SDK).
fn has(g: &BTreeSet<String>, prefix: &str) -> bool {
    if prefix == AWS {
        // The SDK's crates, not aws-lc-rs (the TLS crypto provider rustls uses, the mirror's
        // too).
        return g.iter().any(|p| {
            [
                "aws-sdk-",
                "aws-smithy-",
                "aws-config",
                "aws-runtime",
                "aws-types",
                "aws-sigv4",
            ]
            .iter()
            .any(|sdk| p.starts_with(sdk))
        });
    }
    g.iter().any(|p| p == prefix || p.starts_with(prefix))
}

const AWS: &str = "aws-";
const POSTGRES: &str = "tokio-postgres";
const TLS: &str = "rustls";

#[test]
fn the_core_holds_neither_the_store_nor_the_poller_nor_a_service_client() {
    let g = graph("dynastream-core", "", false);
    for other in ["dynastream-store", "dynastream-poll", AWS, POSTGRES, TLS] {
        assert!(!has(&g, other), "dynastream-core depends on {other}: {g:?}");
    }
    assert!(has(&g, "dynastream-derive"), "{g:?}");
}

#[test]
fn the_store_and_the_poller_stand_on_the_core_alone() {
    let store = graph("dynastream-store", "", false);
    let poll = graph("dynastream-poll", "", false);
    for (name, g, other) in [
        ("dynastream-store", &store, "dynastream-poll"),
        ("dynastream-poll", &poll, "dynastream-store"),
    ] {
        assert!(has(g, "dynastream-core"), "{name}: {g:?}");
        for heavy in [other, AWS, POSTGRES, TLS] {
            assert!(!has(g, heavy), "{name} depends on {heavy}: {g:?}");
        }
    }
}

#[test]
fn each_backend_brings_its_own_client_only() {
    let pg = graph("dynastream-postgres", "", false);
    assert!(has(&pg, POSTGRES) && has(&pg, "dynastream-store"), "{pg:?}");
    assert!(
        !has(&pg, AWS),
        "the Postgres crate depends on the AWS SDK: {pg:?}"
    );
    assert!(
        !has(&pg, "dynastream-poll"),
        "without its poll feature the Postgres crate needs no poller: {pg:?}"
    );
    let ddb = graph("dynastream-dynamodb", "", false);
    assert!(
        has(&ddb, "aws-sdk-dynamodb") && has(&ddb, "dynastream-store"),
        "{ddb:?}"
    );
    assert!(
        !has(&ddb, POSTGRES),
        "the DynamoDB crate depends on Postgres: {ddb:?}"
    );
    assert!(
        !has(&ddb, "dynastream-poll") && !has(&ddb, "aws-sdk-dynamodbstreams"),
        "without its streams feature the DynamoDB crate needs no poller or Streams client: {ddb:?}"
    );
}

#[test]
fn the_front_door_brings_only_the_features_asked_for() {
    let bare = graph("dynastream", "", true);
    for other in [
        "dynastream-store",
        "dynastream-poll",
        AWS,
        POSTGRES,
        TLS,
        "clap",
    ] {
        assert!(
            !has(&bare, other),
            "dynastream without features depends on {other}"
        );
    }
    let app = graph("dynastream", "app", true);
    assert!(has(&app, "clap"), "{app:?}");
    for other in ["dynastream-store", "dynastream-poll", AWS, POSTGRES, TLS] {
        assert!(!has(&app, other), "dynastream/app depends on {other}");
    }
    let store = graph("dynastream", "store", true);
    assert!(has(&store, "dynastream-store"));
    assert!(!has(&store, AWS) && !has(&store, POSTGRES));
    let poll = graph("dynastream", "poll", true);
    assert!(has(&poll, "dynastream-poll") && has(&poll, "aws-sdk-dynamodbstreams"));
    assert!(
        has(&poll, "aws-sdk-kinesis"),
        "poll reads Kinesis streams too: {poll:?}"
    );
    assert!(
        !has(&poll, POSTGRES),
        "poll alone needs no Postgres: {poll:?}"
    );
}

#[test]
fn the_deployed_lambda_build_holds_no_developer_command_client() {
    // The example handler as `cargo lambda build` builds it (its default features).
    let lambda = graph("dynastream-example-handler", "", false);
    assert!(has(&lambda, "aws-sdk-dynamodb"), "{lambda:?}");
    for other in [
        "aws-sdk-sqs",
        "aws-sdk-s3",
        "aws-sdk-dynamodbstreams",
        "aws-sdk-kinesis",
        "dynastream-poll",
    ] {
        assert!(
            !has(&lambda, other),
            "the Lambda build depends on {other}, which only developer commands need"
        );
    }
    let redrive = graph("dynastream", "redrive", true);
    assert!(has(&redrive, "aws-sdk-sqs") && has(&redrive, "dynastream-poll"));
}
