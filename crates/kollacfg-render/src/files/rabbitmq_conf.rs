//! `rabbitmq.conf`: RabbitMQ's new-style (cuttlefish) `key = value` configuration, read and
//! edited losslessly.
//!
//! The document is a list of lines, each keeping its exact text (line end included).
//! [`RabbitConf::set`] rewrites, appends or removes only lines of the one key it is given; every
//! other byte (comments, blank lines, spacing, order, CRLF line ends, a missing final newline) is
//! left as it was.
//!
//! The grammar: whitespace is spaces and tabs, as in RabbitMQ's own parser; a line is blank
//! (whitespace only), a comment (first non-blank character `#`), an `include <path>` directive
//! (kept verbatim, never followed), or a setting `key = value`: the key is a non-empty run of
//! non-whitespace characters without `=`, the `=` may have whitespace around it, and the value is
//! the rest of the line with surrounding whitespace removed, and may not be empty.
//!
//! Values are kept as written: RabbitMQ additionally ends an unquoted value at an inline `#` and
//! drops single quotes around a quoted one, which [`RabbitConf::get`] does not. Parse errors name
//! the line but never quote it, since these files carry credentials.

use super::ParseError;

/// One line of `rabbitmq.conf`, with its exact text (line end included).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// A blank line, a comment or an `include` directive.
    Trivia(String),
    /// `key = value`.
    Setting {
        key: String,
        value: String,
        text: String,
    },
}

impl Line {
    fn text(&self) -> &str {
        match self {
            Line::Trivia(text) | Line::Setting { text, .. } => text,
        }
    }

    fn text_mut(&mut self) -> &mut String {
        match self {
            Line::Trivia(text) | Line::Setting { text, .. } => text,
        }
    }
}

/// A `rabbitmq.conf` file that prints back byte for byte except where it was edited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RabbitConf {
    lines: Vec<Line>,
}

const WHITESPACE: [char; 2] = [' ', '\t'];

impl RabbitConf {
    /// Parses `text`, keeping every byte of it.
    ///
    /// Fails, naming the 1-based line, on a line that is neither blank, comment, `include` nor
    /// `key = value`, and on a setting with an empty key or an empty value.
    pub fn parse(text: &str) -> Result<RabbitConf, ParseError> {
        let lines = text
            .split_inclusive('\n')
            .enumerate()
            .map(|(index, raw)| parse_line(index + 1, raw))
            .collect::<Result<_, _>>()?;
        Ok(RabbitConf { lines })
    }

    /// A document with no lines at all; it renders as the empty string.
    pub fn empty() -> RabbitConf {
        RabbitConf::default()
    }

    /// The value of the last setting of `key` (the one RabbitMQ applies), if any.
    pub fn get(&self, key: &str) -> Option<String> {
        self.lines.iter().rev().find_map(|line| match line {
            Line::Setting { key: k, value, .. } if k == key => Some(value.clone()),
            _ => None,
        })
    }

    /// Every setting as `(key, value)`, in file order (a key set twice comes twice; RabbitMQ
    /// applies the last).
    pub fn settings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lines.iter().filter_map(|line| match line {
            Line::Setting { key, value, .. } => Some((key.as_str(), value.as_str())),
            Line::Trivia(_) => None,
        })
    }

    /// Makes `value` the one and only value of `key`.
    ///
    /// The first setting of `key` becomes `key = value` (left as written when it already holds
    /// exactly `value`) and every later one is removed; without one, `key = value` is appended at
    /// the end, after terminating an unterminated last line with `\n`. Lines written here end
    /// with `\n`. `key` and `value` must already be valid (the caller validates them); debug
    /// builds check it.
    pub fn set(&mut self, key: &str, value: &str) {
        debug_assert!(
            !key.is_empty()
                && !key.contains(|c: char| c == '=' || c.is_whitespace() || c == '\0')
                && !key.starts_with('#'),
            "invalid rabbitmq.conf key {key:?}"
        );
        debug_assert!(
            !value.is_empty() && value.trim() == value && !value.contains(['\n', '\r', '\0']),
            "invalid rabbitmq.conf value {value:?}"
        );

        let setting = Line::Setting {
            key: key.to_owned(),
            value: value.to_owned(),
            text: format!("{key} = {value}\n"),
        };
        let hits: Vec<usize> = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, line)| matches!(line, Line::Setting { key: k, .. } if k == key))
            .map(|(index, _)| index)
            .collect();
        if let Some((&first, later)) = hits.split_first() {
            for &index in later.iter().rev() {
                self.lines.remove(index);
            }
            let unchanged =
                matches!(&self.lines[first], Line::Setting { value: old, .. } if old == value);
            if !unchanged {
                self.lines[first] = setting;
            }
            return;
        }

        if let Some(last) = self.lines.last_mut() {
            if !last.text().ends_with('\n') {
                last.text_mut().push('\n');
            }
        }
        self.lines.push(setting);
    }

    /// Prints the document: the original bytes, with the edits made by [`RabbitConf::set`].
    pub fn render(&self) -> String {
        self.lines.iter().map(Line::text).collect()
    }
}

/// Reads one line (`raw` includes its line end) numbered `line_no`.
fn parse_line(line_no: usize, raw: &str) -> Result<Line, ParseError> {
    let content = raw.strip_suffix('\n').unwrap_or(raw);
    let content = content.strip_suffix('\r').unwrap_or(content);
    let body = content.trim_matches(WHITESPACE);
    if body.is_empty() || body.starts_with('#') {
        return Ok(Line::Trivia(raw.to_owned()));
    }

    let key_end = body
        .find(|c: char| c == '=' || WHITESPACE.contains(&c))
        .unwrap_or(body.len());
    let key = &body[..key_end];
    let Some(value) = body[key_end..]
        .trim_start_matches(WHITESPACE)
        .strip_prefix('=')
    else {
        if key == "include" && key_end < body.len() {
            return Ok(Line::Trivia(raw.to_owned()));
        }
        return Err(ParseError::new(
            line_no,
            "expected `key = value`, a comment or a blank line, but found no `=` after the key",
        ));
    };
    if key.is_empty() {
        return Err(ParseError::new(
            line_no,
            "setting has an empty key before `=`",
        ));
    }
    let value = value.trim_matches(WHITESPACE);
    if value.is_empty() {
        return Err(ParseError::new(
            line_no,
            format!("setting `{key}` has an empty value"),
        ));
    }
    Ok(Line::Setting {
        key: key.to_owned(),
        value: value.to_owned(),
        text: raw.to_owned(),
    })
}

#[cfg(test)]
mod tests;
