//! Creating the notes table as the CloudFormation template does, for the tests, the dev server's
//! local backends and emulators. Its own module so that no function names it: a function's role
//! never needs `dynamodb:CreateTable` (lint's check of the functions' roles reads which modules
//! each function names).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};

use crate::dynamo::UPDATED_INDEX;
use crate::error::StoreError;

/// Creates the table `table` as the CloudFormation template does (for tests and local emulators).
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(StoreError::other)
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(StoreError::other)
    };
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .attribute_definitions(attr("usk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(UPDATED_INDEX)
                .key_schema(key("pk", KeyType::Hash)?)
                .key_schema(key("usk", KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(StoreError::other)?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(StoreError::other)?,
        )
        .send()
        .await
        .map_err(|e| StoreError::unavailable(DisplayErrorContext(&e)))?;
    Ok(())
}
