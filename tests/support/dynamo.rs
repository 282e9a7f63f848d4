//! A real DynamoDB-compatible server for tests: moto's server mode, which the test command
//! (`scripts/test`) starts and names in `DYNAMODB_ENDPOINT`. Each test gets its own table.

#![allow(dead_code)]

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use dynastream::dynamodb::DynamoStore;

/// The server's URL.
pub fn endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "DYNAMODB_ENDPOINT is not set: these tests need a DynamoDB-compatible server. \
             Run scripts/test (it installs and starts moto's server), or start one with \
             `moto_server -H 127.0.0.1 -p 5005` and set DYNAMODB_ENDPOINT=http://127.0.0.1:5005"
        )
    })
}

/// A client for the test server, with dummy credentials.
pub fn client() -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    Client::from_conf(config)
}

/// A store over a new table named after the test (deleted first if a previous run left it),
/// with keys `PK`/`SK` and the given indexes.
pub async fn fresh_store(name: &str, indexes: &[(&str, &str, &str)]) -> DynamoStore {
    fresh_store_keyed(name, ("PK", "SK"), indexes).await
}

/// [`fresh_store`] with the given key attributes (`""` as the sort key: a table with a
/// partition key only).
pub async fn fresh_store_keyed(
    name: &str,
    (pk, sk): (&str, &str),
    indexes: &[(&str, &str, &str)],
) -> DynamoStore {
    let table = format!("t_{name}");
    let client = client();
    let _ = client.delete_table().table_name(&table).send().await;
    let store = DynamoStore::new(client, table);
    store
        .create_table(pk, sk, indexes)
        .await
        .unwrap_or_else(|e| panic!("creating table for {name}: {e}"));
    store
}

/// An S3 client for the test server (moto serves S3 on the same port), path-style.
pub fn s3_client() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
