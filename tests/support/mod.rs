//! Helpers shared by the integration tests.

pub mod dynamo;
pub mod export;
pub mod pg;
