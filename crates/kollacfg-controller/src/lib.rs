//! kollacfg's controller: the only crate that talks to the API server. Reconciles each
//! KollaConfig through dereference → build → apply → status; everything before apply is pure.

#![warn(missing_docs)]

pub mod apply;
pub mod broker;
pub mod build;
pub mod conditions;
pub mod controller;
pub mod echoes;
pub mod error;
pub mod events;
pub mod hash;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod orphans;
pub mod rollout;
pub mod runtime;
pub mod stores;
pub mod telemetry;
pub mod versions;

pub use runtime::{run, run_blocking, LeaderElection, RunError, Settings};
pub use telemetry::LogFormat;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod mocked_tests;
