//! INI files in oslo.config's dialect (`nova.conf` and the other `*.conf` files of OpenStack
//! services), read and edited losslessly.
//!
//! The document is a list of items, each keeping the exact text it was read from: blank and
//! comment lines, `[section]` headers, and assignments together with their continuation lines.
//! [`IniDocument::set`] rewrites, inserts or removes only assignments of the one `section.key` it
//! is given; every other byte (comments, spacing, CRLF line ends, a missing final newline, other
//! sections, multi-valued keys, keys of the same name in other sections) is left as it was.
//! [`IniDocument::set_all`] applies many such edits at once, with the same result as calling
//! `set` for each in turn, in one pass over the document.
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

use std::collections::HashMap;

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
        debug_assert_valid_edit(section, key, value);

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

    /// Applies `edits` as if [`IniDocument::set`] were called for each in order, in time linear
    /// in the size of the document plus the edits.
    ///
    /// Each edit is `(section, key, value)`. The result is the same, byte for byte, as the
    /// sequential calls: the last value given to a key wins, a key whose every edit repeats the
    /// value it already has keeps its line as written, and assignments and sections that did not
    /// exist are added where and in the order the sequential calls would add them.
    pub fn set_all<'a, I>(&mut self, edits: I)
    where
        I: IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    {
        let items = std::mem::take(&mut self.items);
        let plan = Plan::new(&items, edits);
        self.items = plan.apply(items);
    }

    /// Prints the document: the original bytes, with the edits made by [`IniDocument::set`] and
    /// [`IniDocument::set_all`].
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

/// Checks, in debug builds, that an edit is valid for the dialect (callers validate it).
fn debug_assert_valid_edit(section: &str, key: &str, value: &str) {
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
}

/// The assignment `key = value` as [`IniDocument::set`] writes it.
fn new_entry(key: &str, value: &str) -> Item {
    Item::Entry {
        key: key.to_owned(),
        value: value.to_owned(),
        text: format!("{key} = {value}\n"),
    }
}

/// Marks an item of the original document that is not an assignment inside a section.
const NO_KEY: usize = usize::MAX;

/// What a batch of edits does to one `section.key`.
struct KeyEdit<'a> {
    /// Index of the key's first assignment in the original document, if it has one.
    first: Option<usize>,
    /// The key and its latest value, once an edit has named it. From then on, every original
    /// assignment of the key but `first` is gone.
    latest: Option<(&'a str, &'a str)>,
    /// Whether some edit gave a value other than the one `first` holds; `first` is then
    /// rewritten with the latest value, and kept as written otherwise.
    changed: bool,
}

/// Where the new assignments of a section go.
enum Target {
    /// A section of the original document whose last block starts at the header `header`;
    /// `group` is its index in [`Plan::groups`] once an assignment has been inserted there.
    Original { header: usize, group: Option<usize> },
    /// A section the edits add, by its index in [`Plan::appended`].
    Appended(usize),
}

/// New assignments (as indices into [`Plan::keys`], in insertion order) that go right after
/// the original item `anchor`, whether or not that item itself stays.
struct Group {
    anchor: usize,
    keys: Vec<usize>,
}

/// A section added at the end of the document, with its assignments.
struct Appended<'a> {
    name: &'a str,
    /// Whether a blank line goes before its header.
    separated: bool,
    keys: Vec<usize>,
}

/// Everything a batch of edits changes in a document, decided in one pass over the document and
/// one over the edits, and applied in one more pass ([`Plan::apply`]).
///
/// Sequential [`IniDocument::set`] calls only ever rewrite or remove original assignments, add
/// assignments right after the last assignment (or the header) of a section's last block, and
/// append sections. So the result is the original items in order, each kept, rewritten or
/// removed, with runs of new assignments after some of them, followed by the new sections. What
/// depends on the order of the edits is where a section's first new assignment goes (after its
/// last original assignment still present at that moment) and what the last line is when the
/// first new section is appended; both are decided at that edit, against the removals made
/// before it.
struct Plan<'a> {
    keys: Vec<KeyEdit<'a>>,
    /// For each original item, its index in `keys` if it is an assignment in a section, else
    /// [`NO_KEY`].
    entry_keys: Vec<usize>,
    groups: Vec<Group>,
    appended: Vec<Appended<'a>>,
    /// Original items that get a `\n` if they lack one (only a final line can).
    terminate: Vec<bool>,
}

impl<'a> Plan<'a> {
    fn new<I>(items: &[Item], edits: I) -> Plan<'a>
    where
        I: IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    {
        let mut plan = Plan {
            keys: Vec::new(),
            entry_keys: vec![NO_KEY; items.len()],
            groups: Vec::new(),
            appended: Vec::new(),
            terminate: vec![false; items.len()],
        };
        let mut ids: HashMap<(&str, &str), usize> = HashMap::new();
        let mut sections: HashMap<&str, Target> = HashMap::new();

        let mut current: Option<&str> = None;
        for (index, item) in items.iter().enumerate() {
            match item {
                Item::Header { name, .. } => {
                    current = Some(name);
                    let target = Target::Original {
                        header: index,
                        group: None,
                    };
                    sections.insert(name, target);
                }
                Item::Entry { key, .. } => {
                    let Some(section) = current else { continue };
                    let keys = &mut plan.keys;
                    let id = *ids.entry((section, key)).or_insert_with(|| {
                        keys.push(KeyEdit {
                            first: Some(index),
                            latest: None,
                            changed: false,
                        });
                        keys.len() - 1
                    });
                    plan.entry_keys[index] = id;
                }
                Item::Trivia(_) => {}
            }
        }

        for (section, key, value) in edits {
            debug_assert_valid_edit(section, key, value);
            let keys = &mut plan.keys;
            let id = *ids.entry((section, key)).or_insert_with(|| {
                keys.push(KeyEdit {
                    first: None,
                    latest: None,
                    changed: false,
                });
                keys.len() - 1
            });
            let edit = &mut plan.keys[id];
            let named_before = edit.latest.replace((key, value)).is_some();
            if let Some(first) = edit.first {
                if !matches!(&items[first], Item::Entry { value: old, .. } if old == value) {
                    edit.changed = true;
                }
                continue;
            }
            if named_before {
                // Added by an earlier edit of this batch: only its value changes.
                continue;
            }
            match sections.get_mut(section) {
                Some(Target::Original { header, group }) => {
                    let group = match *group {
                        Some(group) => group,
                        None => {
                            let anchor = plan.insertion_anchor(items, *header);
                            plan.terminate[anchor] = true;
                            plan.groups.push(Group {
                                anchor,
                                keys: Vec::new(),
                            });
                            *group = Some(plan.groups.len() - 1);
                            plan.groups.len() - 1
                        }
                    };
                    plan.groups[group].keys.push(id);
                }
                Some(Target::Appended(appended)) => plan.appended[*appended].keys.push(id),
                None => {
                    // After the first appended section, the last line is one of its assignments.
                    let separated =
                        !plan.appended.is_empty() || plan.separate_first_appended(items);
                    sections.insert(section, Target::Appended(plan.appended.len()));
                    plan.appended.push(Appended {
                        name: section,
                        separated,
                        keys: vec![id],
                    });
                }
            }
        }
        plan
    }

    /// Whether the original item `index` is still there after the edits decided so far.
    fn present(&self, index: usize) -> bool {
        let id = self.entry_keys[index];
        id == NO_KEY || {
            let edit = &self.keys[id];
            edit.latest.is_none() || edit.first == Some(index)
        }
    }

    /// The original item a section's first new assignment goes after, given the header of the
    /// section's last block: the block's last assignment still present, or the header.
    fn insertion_anchor(&self, items: &[Item], header: usize) -> usize {
        let mut anchor = header;
        for (index, item) in items.iter().enumerate().skip(header + 1) {
            match item {
                Item::Header { .. } => break,
                Item::Entry { .. } if self.present(index) => anchor = index,
                _ => {}
            }
        }
        anchor
    }

    /// Decides what precedes the first appended section: terminates the document's current last
    /// line, and tells whether a blank line must be added after it.
    fn separate_first_appended(&mut self, items: &[Item]) -> bool {
        let Some(last) = (0..items.len()).rev().find(|&index| self.present(index)) else {
            return false;
        };
        if self.groups.iter().any(|group| group.anchor >= last) {
            // The last line is an assignment inserted by this batch.
            return true;
        }
        self.terminate[last] = true;
        !items[last].is_blank()
    }

    fn apply(self, items: Vec<Item>) -> Vec<Item> {
        let latest = |id: usize| {
            self.keys[id]
                .latest
                .expect("only keys named by an edit are inserted")
        };
        let added = self.groups.iter().map(|g| g.keys.len()).sum::<usize>()
            + self
                .appended
                .iter()
                .map(|a| a.keys.len() + 2)
                .sum::<usize>();
        let mut out = Vec::with_capacity(items.len() + added);

        // Anchors are distinct: each lies in the last block of a different section.
        let mut anchored: Vec<Option<&Group>> = vec![None; items.len()];
        for group in &self.groups {
            anchored[group.anchor] = Some(group);
        }
        for (index, mut item) in items.into_iter().enumerate() {
            let id = self.entry_keys[index];
            let edited = (id != NO_KEY)
                .then(|| &self.keys[id])
                .and_then(|edit| Some((edit, edit.latest?)));
            match edited {
                // A later assignment of an edited key: removed.
                Some((edit, _)) if edit.first != Some(index) => {}
                Some((edit, (key, value))) if edit.changed => out.push(new_entry(key, value)),
                _ => {
                    if self.terminate[index] && !item.text().ends_with('\n') {
                        item.text_mut().push('\n');
                    }
                    out.push(item);
                }
            }
            if let Some(group) = anchored[index] {
                for &id in &group.keys {
                    let (key, value) = latest(id);
                    out.push(new_entry(key, value));
                }
            }
        }

        for section in &self.appended {
            if section.separated {
                out.push(Item::Trivia("\n".to_owned()));
            }
            out.push(Item::Header {
                name: section.name.to_owned(),
                text: format!("[{}]\n", section.name),
            });
            for &id in &section.keys {
                let (key, value) = latest(id);
                out.push(new_entry(key, value));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
