//! The CloudFormation contract between the tool and `cloud/`: the one [`Template`] model, the one
//! parameters loader ([`ParameterFile`]), what the deploy injects ([`injected`]), the stack outputs
//! as a typed struct ([`StackOutputs`]), the lint checks ([`checks`]), and the template
//! CloudFormation receives, with hashed Version and Deployment ids ([`transform`]).

pub mod bootstrap;
pub mod checks;
pub mod injected;
pub mod outputs;
pub mod parameters;
pub mod template;
pub mod transform;
mod yaml;

pub use self::outputs::StackOutputs;
pub use self::parameters::ParameterFile;
pub use self::template::{Parameter, Resource, Template};
pub use self::yaml::yaml_to_json;
