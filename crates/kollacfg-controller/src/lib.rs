//! kollacfg's controller: the only crate that talks to the API server. Reconciles each
//! KollaConfig through dereference → build → apply → status; everything before apply is pure.

pub mod build;
pub mod conditions;
pub mod hash;
