//! The xtask's integration tests, one binary: the command surface through the real binary (`cli`),
//! deploy/sync/destroy end to end on moto (`deploy_e2e`, `outputs`), reruns that converge after
//! faults (`converge`, set-up shared in `e2e`), the same under enforced IAM (`enforced_iam`), the deploy
//! lock (`lock`), environments and bootstrap (`environments`), smoke checks (`smoke`), release
//! records (`releases`), reproducible dists on a fixture
//! project (`dist`), the CloudFormation contract and its checks (`template`), the IAM table of
//! the xtask's own calls (`permissions`), the bench's report
//! (`bench_report`), and the repository-wide checks (`tidy`).

mod bench_report;
mod cli;
mod converge;
mod deploy_e2e;
mod dist;
mod e2e;
mod enforced_iam;
mod environments;
mod lock;
mod ops;
mod outputs;
mod permissions;
mod plan;
mod releases;
mod rollback;
mod smoke;
mod template;
mod tidy;
mod workflows;
