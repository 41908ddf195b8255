//! kollacfg's pure engine: validates fragments, merges them by precedence into a target's kolla
//! files and renders those files losslessly. No Kubernetes, no I/O: the same inputs always give
//! the same bytes, offline and in a cluster.

pub mod files;
pub mod model;

pub use model::*;
