//! An SDK client that is either given or built on first use from an [`SdkConfig`].
//!
//! Building an SDK client (its config layers, runtime plugins, endpoint resolver) takes about a
//! tenth of a function's cold init; a cold start whose requests fail validation, or only read the
//! activity log or the stats, never needs the DynamoDB or S3 client (the health check needs both).
//! The cost moves to the first call that uses the client, which makes that call about as much
//! slower (a fraction of a millisecond): nothing is saved for it, only for the cold starts that
//! never call.

use std::sync::OnceLock;

use aws_config::SdkConfig;

/// A clone made before the first use builds a client of its own when it is first used.
#[derive(Clone, Debug)]
pub struct SdkClient<C>(Inner<C>);

#[derive(Clone, Debug)]
enum Inner<C> {
    Built(C),
    Lazy { config: Box<SdkConfig>, build: fn(&SdkConfig) -> C, client: OnceLock<C> },
}

impl<C> SdkClient<C> {
    /// A client built by the caller (tests, the dev server).
    pub fn built(client: C) -> SdkClient<C> {
        SdkClient(Inner::Built(client))
    }

    /// `build(&config)` runs on the first [`SdkClient::get`], once.
    pub fn lazy(config: SdkConfig, build: fn(&SdkConfig) -> C) -> SdkClient<C> {
        SdkClient(Inner::Lazy { config: Box::new(config), build, client: OnceLock::new() })
    }

    pub fn get(&self) -> &C {
        match &self.0 {
            Inner::Built(client) => client,
            Inner::Lazy { config, build, client } => client.get_or_init(|| build(config)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::SdkClient;

    static BUILDS: AtomicUsize = AtomicUsize::new(0);

    fn build(config: &aws_config::SdkConfig) -> String {
        BUILDS.fetch_add(1, Ordering::SeqCst);
        format!("client in {:?}", config.region().map(|r| r.as_ref().to_string()))
    }

    #[test]
    fn a_lazy_client_is_built_once_on_first_use_from_its_config() {
        let config = aws_config::SdkConfig::builder().region(aws_config::Region::new("eu-west-1")).build();
        let client = SdkClient::lazy(config, build);
        assert_eq!(BUILDS.load(Ordering::SeqCst), 0, "nothing is built before the first use");
        assert_eq!(client.get(), "client in Some(\"eu-west-1\")");
        assert_eq!(client.get(), "client in Some(\"eu-west-1\")");
        assert_eq!(BUILDS.load(Ordering::SeqCst), 1);
        assert_eq!(SdkClient::built(String::from("given")).get(), "given");
        assert_eq!(BUILDS.load(Ordering::SeqCst), 1, "a given client is not built");
    }
}
