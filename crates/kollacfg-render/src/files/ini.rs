//! INI files in oslo.config's dialect (`nova.conf`).
//!
//! CONTRACT (to be implemented): `IniDocument::{parse, empty, get, set, render}`.
