//! kollacfg custom resource types.
