//! kollacfg's pure engine: validates fragments, merges them by precedence into a target's kolla
//! files and renders those files losslessly. No Kubernetes, no I/O: the same inputs always give
//! the same bytes, offline and in a cluster.

pub mod contrib;
pub mod erl_flags;
pub mod files;
pub mod host_items;
pub mod issue;
pub mod items;
pub mod lint;
pub mod merge;
pub mod model;
pub mod pcre;
pub mod per_pod;
pub mod render;
pub mod validate;

pub use issue::Issue;
pub use model::*;
