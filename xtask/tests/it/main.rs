//! The xtask's integration tests, one binary: the command surface through the real binary (`cli`),
//! deploy/sync/destroy end to end on moto (`deploy_e2e`, `outputs`), reproducible dists on a fixture
//! project (`dist`), the CloudFormation contract and its checks (`template`), the bench's report
//! (`bench_report`), and the repository-wide checks (`tidy`).

mod bench_report;
mod cli;
mod deploy_e2e;
mod dist;
mod ops;
mod outputs;
mod releases;
mod template;
mod tidy;
mod workflows;
