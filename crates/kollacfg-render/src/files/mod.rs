//! Lossless readers/editors for the kolla files kollacfg manages.
//!
//! Each module parses one file format into a document that keeps the original text of every
//! line or element it does not change, applies edits item by item, and prints the document back.
//! An untouched document prints back byte for byte. None of these modules validates values:
//! callers hand them values already checked by `crate::validate`.

pub mod definitions;
pub mod ini;
pub mod rabbitmq_conf;
pub mod rabbitmq_env;

/// A base file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number of the offending text.
    pub line: usize,
    /// What is wrong, for an operator.
    pub message: String,
}

impl ParseError {
    /// A parse error at `line` (1-based).
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}
