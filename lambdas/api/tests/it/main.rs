//! The API's integration tests, one binary: the router on real stores (`routes`), attachment
//! states (`attachments`), the listing's
//! queries (`listing`), the exact contract (`contract`), under store outages (`faults`), reads
//! around a Redis blip (`stale`), and fed API Gateway REST events through lambda_http
//! (`apigw_event`).
//! `support` is the harness: real stores on moto, PostgreSQL and Redis, and request helpers.

mod apigw_event;
mod attachments;
mod contract;
mod faults;
mod listing;
mod routes;
mod stale;
mod support;
