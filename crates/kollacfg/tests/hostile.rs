//! Hostile input: what `kollacfg` promises whatever it is given (`docs/promises.md`). One module
//! per class of failure; every refusal asserts the exit code, a message naming the resource (or
//! path), the field and the reason, and that the output tree is byte for byte (and mode for
//! mode) what it was before, with no temporary left behind.

#[path = "hostile/base.rs"]
mod base;
#[path = "hostile/common.rs"]
mod common;
#[path = "hostile/crash.rs"]
mod crash;
#[path = "hostile/injection.rs"]
mod injection;
#[path = "hostile/writes.rs"]
mod writes;
#[path = "hostile/yaml.rs"]
mod yaml;

/// A RabbitPolicy on the `rabbitmq` target (it edits `definitions.json`).
pub fn base_policy() -> &'static str {
    "apiVersion: kollacfg.dev/v1alpha1
kind: RabbitPolicy
metadata: {name: ha, namespace: openstack}
spec:
  kollaConfigRef: {name: rabbitmq}
  name: ha-all
  pattern: \".*\"
  definition: {ha-mode: exactly, ha-params: 2}
"
}
