//! Bringing the stack to what the template and parameters say: the no-op check and the change set
//! ([`update`]), stacks left stuck by an earlier failure ([`repair`]), the migration function run
//! after a change that calls for it ([`migrations`]), what AWS would refuse late, refused before
//! the first write ([`preflight`]), and the CodeDeploy traffic shifts that a new version behind a
//! function's `live` alias starts ([`traffic`]), and the lock that keeps two runs from writing to
//! one stack at once ([`lock`]). The CloudFormation calls themselves are
//! [`crate::aws::cfn`]'s.

pub mod lock;
pub mod migrations;
pub mod preflight;
pub mod repair;
pub mod traffic;
pub mod update;
