//! INI files in oslo.config's dialect (`nova.conf` and the other `*.conf` files of OpenStack
//! services), read and edited losslessly.
//!
//! The document is a list of items, each keeping the exact text it was read from: blank and
//! comment lines, `[section]` headers, and assignments together with their continuation lines.
//! [`IniDocument::set`] rewrites, inserts or removes only assignments of the one `section.key` it
//! is given; every other byte (comments, spacing, CRLF line ends, a missing final newline, other
//! sections, multi-valued keys, keys of the same name in other sections) is left as it was.
//!
//! The grammar is the one oslo.config reads:
//! - a line that is empty after removing trailing whitespace is blank, and ends a value;
//! - a line starting with a space or a tab continues the value of the assignment right above it
//!   (even when it looks like a comment); anywhere else it is an error;
//! - `[name]` starts a section (the line must end with `]`); sections may repeat, and every block
//!   of a name belongs to the same section;
//! - a line starting with `#` or `;` is a comment;
//! - anything else is `key = value` or `key: value`, split at the first `=` or `:`, with key and
//!   value stripped; a key may repeat in a section (multi-valued options).
//!
//! Values are kept as written: oslo.config additionally drops one pair of matching surrounding
//! quotes, which [`IniDocument::get`] does not. Parse errors name the line but never quote it,
//! since these files carry credentials.

use super::ParseError;

/// One item of an INI document, with the exact text (line ends included) it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A blank or comment line.
    Trivia(String),
    /// A `[name]` line.
    Header { name: String, text: String },
    /// An assignment line and its continuation lines; `value` joins them with `\n`.
    Entry {
        key: String,
        value: String,
        text: String,
    },
}

impl Item {
    fn text(&self) -> &str {
        match self {
            Item::Trivia(text) | Item::Header { text, .. } | Item::Entry { text, .. } => text,
        }
    }

    fn text_mut(&mut self) -> &mut String {
        match self {
            Item::Trivia(text) | Item::Header { text, .. } | Item::Entry { text, .. } => text,
        }
    }

    fn is_blank(&self) -> bool {
        matches!(self, Item::Trivia(text) if text.trim().is_empty())
    }
}

/// An oslo.config INI file that prints back byte for byte except where it was edited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IniDocument {
    items: Vec<Item>,
}

impl IniDocument {
    /// Parses `text`, keeping every byte of it.
    ///
    /// Fails, naming the 1-based line, on an indented line that continues no assignment, a
    /// section header without its closing `]` or without a name, a line that is neither blank,
    /// comment, header nor assignment, an empty key, and an assignment before the first header.
    pub fn parse(text: &str) -> Result<IniDocument, ParseError> {
        let mut items: Vec<Item> = Vec::new();
        let mut in_section = false;
        for (index, raw) in text.split_inclusive('\n').enumerate() {
            let line_no = index + 1;
            let content = raw.trim_end();
            if content.is_empty() {
                items.push(Item::Trivia(raw.to_owned()));
            } else if raw.starts_with([' ', '\t']) {
                let Some(Item::Entry { value, text, .. }) = items.last_mut() else {
                    return Err(ParseError::new(
                        line_no,
                        "indented line continues no `key = value` assignment (a blank line, a \
                         comment or a section header ends a value)",
                    ));
                };
                value.push('\n');
                value.push_str(content.trim_start());
                text.push_str(raw);
            } else if let Some(inner) = content.strip_prefix('[') {
                let Some(name) = inner.strip_suffix(']') else {
                    return Err(ParseError::new(line_no, "section header must end with `]`"));
                };
                if name.is_empty() {
                    return Err(ParseError::new(line_no, "section header `[]` has no name"));
                }
                in_section = true;
                items.push(Item::Header {
                    name: name.to_owned(),
                    text: raw.to_owned(),
                });
            } else if content.starts_with(['#', ';']) {
                items.push(Item::Trivia(raw.to_owned()));
            } else {
                let Some(split) = content.find(['=', ':']) else {
                    return Err(ParseError::new(
                        line_no,
                        "expected `key = value`, a `[section]` header or a comment, but found \
                         no `=` or `:`",
                    ));
                };
                let key = content[..split].trim();
                if key.is_empty() {
                    return Err(ParseError::new(line_no, "assignment has an empty key"));
                }
                if !in_section {
                    return Err(ParseError::new(
                        line_no,
                        format!("`{key}` is assigned before the first `[section]` header"),
                    ));
                }
                items.push(Item::Entry {
                    key: key.to_owned(),
                    value: content[split + 1..].trim().to_owned(),
                    text: raw.to_owned(),
                });
            }
        }
        Ok(IniDocument { items })
    }

    /// A document with no lines at all; it renders as the empty string.
    pub fn empty() -> IniDocument {
        IniDocument::default()
    }

    /// Every value of `key` in `section`, across all blocks of that section, in file order.
    ///
    /// A value with continuation lines comes back with its lines joined by `\n` (the first line
    /// may then be empty, as in `key =` followed by indented lines). Empty when the key is
    /// absent.
    pub fn get(&self, section: &str, key: &str) -> Vec<String> {
        self.entries(section, key)
            .map(|index| match &self.items[index] {
                Item::Entry { value, .. } => value.clone(),
                _ => unreachable!("entries() yields assignments only"),
            })
            .collect()
    }

    /// Makes `value` the one and only value of `key` in `section`.
    ///
    /// - The key exists (in any block of the section): its first occurrence, continuation lines
    ///   included, becomes `key = value` (left as written when it already holds exactly
    ///   `value`), and every later occurrence in the section is removed.
    /// - Otherwise `key = value` goes right after the last assignment of the section's last
    ///   block, or right after that block's header when it has no assignment.
    /// - Without such a section, `[section]` and `key = value` are appended at the end, after a
    ///   blank line unless the document is empty or already ends with one.
    ///
    /// Lines written here end with `\n`; an unterminated line that gets a line after it is
    /// terminated with `\n` first. `section`, `key` and `value` must already be valid for the
    /// dialect (the caller validates them); debug builds check it.
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        debug_assert!(
            !section.is_empty() && !section.contains(['\n', '\r', '\0']),
            "invalid INI section name {section:?}"
        );
        debug_assert!(
            !key.is_empty()
                && key.trim() == key
                && !key.contains(['=', ':', '\n', '\r', '\0'])
                && !key.starts_with(['[', '#', ';']),
            "invalid INI key {key:?}"
        );
        debug_assert!(
            value.trim() == value && !value.contains(['\n', '\r', '\0']),
            "invalid INI value {value:?}"
        );

        let entry = Item::Entry {
            key: key.to_owned(),
            value: value.to_owned(),
            text: format!("{key} = {value}\n"),
        };
        let hits: Vec<usize> = self.entries(section, key).collect();
        if let Some((&first, later)) = hits.split_first() {
            for &index in later.iter().rev() {
                self.items.remove(index);
            }
            let unchanged =
                matches!(&self.items[first], Item::Entry { value: old, .. } if old == value);
            if !unchanged {
                self.items[first] = entry;
            }
            return;
        }

        if let Some(at) = self.insertion_point(section) {
            self.terminate_line_before(at);
            self.items.insert(at, entry);
            return;
        }

        let len = self.items.len();
        self.terminate_line_before(len);
        if self.items.last().is_some_and(|last| !last.is_blank()) {
            self.items.push(Item::Trivia("\n".to_owned()));
        }
        self.items.push(Item::Header {
            name: section.to_owned(),
            text: format!("[{section}]\n"),
        });
        self.items.push(entry);
    }

    /// Prints the document: the original bytes, with the edits made by [`IniDocument::set`].
    pub fn render(&self) -> String {
        self.items.iter().map(Item::text).collect()
    }

    /// Indices of the assignments of `key` in any block of `section`, in file order.
    fn entries<'a>(&'a self, section: &'a str, key: &'a str) -> impl Iterator<Item = usize> + 'a {
        let mut current: Option<&str> = None;
        self.items
            .iter()
            .enumerate()
            .filter_map(move |(index, item)| match item {
                Item::Header { name, .. } => {
                    current = Some(name);
                    None
                }
                Item::Entry { key: k, .. } if current == Some(section) && k == key => Some(index),
                _ => None,
            })
    }

    /// Where a new assignment of `section` goes: after the last assignment of the section's last
    /// block, or after that block's header. `None` when the section does not exist.
    fn insertion_point(&self, section: &str) -> Option<usize> {
        let mut point = None;
        let mut in_section = false;
        for (index, item) in self.items.iter().enumerate() {
            match item {
                Item::Header { name, .. } => {
                    in_section = name == section;
                    if in_section {
                        point = Some(index + 1);
                    }
                }
                Item::Entry { .. } if in_section => point = Some(index + 1),
                _ => {}
            }
        }
        point
    }

    /// Ends the item just before position `at` with `\n` if it is unterminated (only the last
    /// line of a file can be).
    fn terminate_line_before(&mut self, at: usize) {
        if let Some(previous) = at.checked_sub(1).and_then(|i| self.items.get_mut(i)) {
            if !previous.text().ends_with('\n') {
                previous.text_mut().push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests;
