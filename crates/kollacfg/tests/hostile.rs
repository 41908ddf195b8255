//! Hostile input: what `kollacfg` promises whatever it is given (`docs/promises.md`). One module
//! per class of failure; every refusal asserts the exit code, a message naming the resource (or
//! path), the field and the reason, and that the output tree is byte for byte (and mode for
//! mode) what it was before, with no temporary left behind.

#[path = "hostile/base.rs"]
mod base;
#[path = "hostile/common.rs"]
mod common;
#[path = "hostile/writes.rs"]
mod writes;

