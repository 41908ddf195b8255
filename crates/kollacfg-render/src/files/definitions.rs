//! `definitions.json`: RabbitMQ's definitions file. kollacfg manages `policies[]` only, item by
//! item (`(vhost, name)`); every other byte of the base (users with their `password_hash`,
//! vhosts, permissions, queues, unknown keys) is kept as it was.
//!
//! CONTRACT (to be implemented):
//! - `Definitions::parse(text) -> Result<Definitions, ParseError>`: the text must be a JSON
//!   object; `policies`, when present, an array of objects each with string `vhost` and `name`.
//! - `Definitions::empty()`: the document used when the target has no base file.
//! - `policies(&self) -> Vec<serde_json::Value>`: the policies as they stand.
//! - `upsert_policies(&mut self, &[serde_json::Value])`: each value a full policy object as
//!   built by `policy_json`; a policy whose `(vhost, name)` exists replaces it in place (later
//!   duplicates removed), new ones are appended in the order given.
//! - `render(&self) -> String`.
//! - `policy_json(vhost, name, pattern, apply_to, definition, priority) -> Value` with
//!   RabbitMQ's export key order: vhost, name, pattern, apply-to, definition, priority.
