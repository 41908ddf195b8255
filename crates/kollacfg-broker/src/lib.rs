//! kollacfg's live RabbitMQ engine: compare the policies of a rendered `definitions.json` with a
//! running broker's (through its management HTTP API), and apply the difference — PUT what
//! differs, DELETE what may be deleted and is no longer wanted, leave everything else alone.
//!
//! No Kubernetes here: the controller and the `kollacfg broker` command both drive it.
//! Credentials never reach an error, a log line or Debug output.

mod client;
mod plan;
mod policy;
mod sync;

pub use client::{broker_reason, Broker, BrokerConfig, BrokerError, RequestObserver};
pub use plan::{plan, Plan};
pub use policy::{policies_from_definitions, value_eq, Policy, PolicyKey};
pub use sync::{apply, sync, SyncOutcome};
