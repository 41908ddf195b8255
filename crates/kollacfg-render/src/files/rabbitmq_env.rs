//! `rabbitmq-env.conf`: a shell fragment sourced by RabbitMQ's start scripts.
//!
//! CONTRACT (to be implemented): `EnvFile::{parse, empty, get, set, erl_args, set_erl_flags,
//! render}`; see the module documentation once implemented.
