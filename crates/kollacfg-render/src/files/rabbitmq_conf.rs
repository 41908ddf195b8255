//! `rabbitmq.conf`: RabbitMQ's new-style `key = value` configuration.
//!
//! CONTRACT (to be implemented): `RabbitConf::{parse, empty, get, set, render}`.
