//! The API's integration tests, one binary: the router on real stores (`routes`), under store
//! outages (`faults`), and fed API Gateway REST events through lambda_http (`apigw_event`).
//! `support` is the harness: real stores on moto, PostgreSQL and Redis, and request helpers.

mod apigw_event;
mod faults;
mod routes;
mod support;
