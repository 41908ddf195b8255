//! `rabbitmq-env.conf`: a shell fragment sourced by RabbitMQ's start scripts.
//!
//! The file is kept as a list of logical lines with their original text. Only assignment lines
//! (`NAME=value`, `export NAME=value`, indented or not, with an optional trailing `# comment`)
//! are understood; every other line (comments, blank lines, `if`/`fi`, anything else) is kept
//! byte for byte and never touched. An edit rewrites exactly one assignment line (and drops
//! earlier assignments of the same variable, which the shell would overwrite anyway), or
//! appends one at the end.
//!
//! Values are decoded as POSIX sh would for quoting (backslashes, single and double quotes), but
//! nothing is ever expanded: a value that uses `$`, backquotes or `~` cannot be known without
//! running the shell, so reading or editing that variable's value is refused.
//!
//! Erlang flags already in the variable are matched by the flag Erlang reads, whatever their
//! spelling: an edit of `+sbwt` replaces a base's `+sbwtnone` instead of leaving it to win.
//!
//! Precedence of the Erlang arguments variable: RabbitMQ reads
//! [`ERL_ARGS_VAR`] and, when that is absent or empty, [`ERL_ARGS_VAR_UNPREFIXED`]; the one in
//! effect is edited, and the other left untouched.
//!
//! Before an edit, [`EnvFile::check_editable`] refuses a file whose lines are not all plain
//! assignments, comments and blanks (a heredoc, a function, an `if` block, a continuation, a
//! command substitution): there, which assignment is live depends on running the shell.

mod shell;
#[cfg(test)]
mod tests;

use super::ParseError;
use shell::Assignment;

/// The variable holding extra Erlang emulator arguments.
pub const ERL_ARGS_VAR: &str = "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS";
/// The prefix rabbitmq-env puts before a variable's short name: `RABBITMQ_X` wins over `X`,
/// which is read only when `RABBITMQ_X` is empty.
pub const RABBITMQ_PREFIX: &str = "RABBITMQ_";
/// The same variable without the `RABBITMQ_` prefix, which `rabbitmq-env.conf` may also use.
pub const ERL_ARGS_VAR_UNPREFIXED: &str = "SERVER_ADDITIONAL_ERL_ARGS";

/// One Erlang emulator flag with its arguments, e.g. name "+sbwt", args ["none"].
///
/// The name and each argument are written as one word each, as given: callers pass validated
/// flags (a `+` name, arguments without blanks or quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErlFlag {
    /// The flag itself, e.g. `+sbwt`.
    pub name: String,
    /// The words that follow it, e.g. `["none"]`.
    pub args: Vec<String>,
}

/// One logical line: its text including the line terminator, and what it assigns, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    raw: String,
    assign: Option<Assignment>,
}

/// A parsed `rabbitmq-env.conf` that prints back byte for byte until edited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvFile {
    items: Vec<Item>,
}

/// The length of the line terminator (`\n` or `\r\n`) ending `raw`, 0 when there is none.
fn eol_len(raw: &str) -> usize {
    if raw.ends_with("\r\n") {
        2
    } else if raw.ends_with('\n') {
        1
    } else {
        0
    }
}

fn is_flag_word(word: &str) -> bool {
    word.starts_with('+') || word.starts_with('-')
}

/// Groups words into flags: a `+`/`-` word and the non-flag words after it. Words before the
/// first flag form a group of their own.
fn group_flags(words: Vec<String>) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for word in words {
        match groups.last_mut() {
            Some(group) if !is_flag_word(&word) => group.push(word),
            _ => groups.push(vec![word]),
        }
    }
    groups
}

/// Whether `group` sets the emulator flag `name` (`+sbwt`), in any spelling Erlang reads as
/// that flag: `+sbwtnone` is `+sbwt none` ([`crate::erl_flags::read`]).
fn is_flag_named(group: &[String], name: &str) -> bool {
    group.first().is_some_and(|w| {
        is_flag_word(w)
            && match crate::erl_flags::read(w) {
                crate::erl_flags::Reading::Exact(f) | crate::erl_flags::Reading::Glued(f, _) => {
                    name.strip_prefix('+') == Some(f.name)
                }
                crate::erl_flags::Reading::Unknown => w == name,
            }
    })
}

impl EnvFile {
    /// Parses `text`. Fails only on what cannot be delimited (an unterminated quote or
    /// substitution), naming the line where it opens.
    pub fn parse(text: &str) -> Result<EnvFile, ParseError> {
        let line_at = |at: usize| text[..at].matches('\n').count() + 1;
        let ranges =
            shell::logical_lines(text).map_err(|u| ParseError::new(line_at(u.at), u.message()))?;
        let mut items = Vec::with_capacity(ranges.len());
        for range in ranges {
            let raw = &text[range.clone()];
            let content = &raw[..raw.len() - eol_len(raw)];
            let assign = shell::parse_assignment(content)
                .map_err(|u| ParseError::new(line_at(range.start + u.at), u.message()))?;
            items.push(Item {
                raw: raw.to_string(),
                assign,
            });
        }
        Ok(EnvFile { items })
    }

    /// The file used when the target has no base: no lines at all (renders as `""`).
    pub fn empty() -> EnvFile {
        EnvFile::default()
    }

    /// The decoded value of the last assignment of exactly `name`; `None` when there is none,
    /// or when its value cannot be known statically ([`EnvFile::try_get`] says why).
    pub fn get(&self, name: &str) -> Option<String> {
        self.try_get(name).ok().flatten()
    }

    /// Like [`EnvFile::get`], but a value that uses `$`, backquotes or `~` is an error naming
    /// its line instead of `None`.
    pub fn try_get(&self, name: &str) -> Result<Option<String>, ParseError> {
        match self.last(name) {
            Some(idx) => self.decoded(idx).map(Some),
            None => Ok(None),
        }
    }

    /// Sets `name` to `value` (pre-validated: only `[A-Za-z0-9_@%+=:,./-]` and spaces).
    ///
    /// The last assignment line of `name` is rewritten in place (its indentation, `export` and
    /// trailing comment kept) and earlier ones are removed; without one, `NAME=value` is
    /// appended. The value is written bare when it can be, else in double quotes.
    ///
    /// Setting `RABBITMQ_X` also removes the assignments of `X`: rabbitmq-env reads `X` only when
    /// `RABBITMQ_X` is empty, and the two spellings are one variable, which the file then holds
    /// once, with the value set.
    pub fn set(&mut self, name: &str, value: &str) {
        let encoded = if shell::is_bare(value) {
            value.to_string()
        } else {
            shell::double_quote(value)
        };
        self.write(name, &encoded, value);
        if let Some(stem) = name.strip_prefix(RABBITMQ_PREFIX).filter(|s| !s.is_empty()) {
            self.items
                .retain(|i| i.assign.as_ref().is_none_or(|a| a.name != stem));
        }
    }

    /// Checks that kollacfg may edit this file: every logical line is a plain assignment
    /// (`NAME=value`, `export NAME=value`), an `export` of names, a comment or a blank line,
    /// with no line continuation and no command substitution. Around a heredoc, a function, an
    /// `if`/`case`/loop block or any other command, which assignments are live cannot be known
    /// without running the shell, so such a file is refused, naming the first such line.
    pub fn check_editable(&self) -> Result<(), ParseError> {
        for (idx, item) in self.items.iter().enumerate() {
            let content = &item.raw[..item.raw.len() - eol_len(&item.raw)];
            if let Some(what) = shell::not_editable(content, item.assign.is_some()) {
                return Err(ParseError::new(
                    self.line_of(idx),
                    format!(
                        "{what}: kollacfg edits rabbitmq-env.conf only when every line is a plain \
                         assignment (NAME=value, export NAME=value), a comment or a blank line; \
                         around it, which assignments are live cannot be known without running \
                         the shell"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The words of the Erlang arguments variable ([`ERL_ARGS_VAR`], else
    /// [`ERL_ARGS_VAR_UNPREFIXED`]), `[]` when neither is assigned. The decoded value is split
    /// on whitespace, but a quoted run stays inside its word with its quote characters (kolla's
    /// `-kernel inetrc '/etc/rabbitmq/erl_inetrc'` gives three words, the last one quoted).
    pub fn erl_args(&self) -> Result<Vec<String>, ParseError> {
        Ok(self.erl_words()?.map(|(_, w)| w).unwrap_or_default())
    }

    /// Sets Erlang emulator flags in the Erlang arguments variable, flag by flag.
    ///
    /// A flag already present has its first occurrence (name and arguments) replaced in place
    /// and later occurrences removed; flags not present are put at the front, in the order
    /// given (after any words that precede the first flag, so that they stay unattached).
    /// Every other word stays where it was. The variable is written back under the name
    /// it had, in double quotes; without either variable, [`ERL_ARGS_VAR`] is appended. An
    /// empty `flags` changes nothing.
    pub fn set_erl_flags(&mut self, flags: &[ErlFlag]) -> Result<(), ParseError> {
        if flags.is_empty() {
            return Ok(());
        }
        let (name, words) = self
            .erl_words()?
            .unwrap_or_else(|| (ERL_ARGS_VAR.to_string(), Vec::new()));
        let mut groups = group_flags(words);
        // New flags go first, but after words that precede every flag: put before them, a flag
        // would take them as its arguments.
        let mut front = usize::from(groups.first().is_some_and(|g| !is_flag_word(&g[0])));
        for flag in flags {
            let mut replacement = Vec::with_capacity(flag.args.len() + 1);
            replacement.push(flag.name.clone());
            replacement.extend(flag.args.iter().cloned());
            match groups.iter().position(|g| is_flag_named(g, &flag.name)) {
                Some(first) => {
                    groups[first] = replacement;
                    let mut idx = 0;
                    groups.retain(|g| {
                        let keep = idx <= first || !is_flag_named(g, &flag.name);
                        idx += 1;
                        keep
                    });
                }
                None => {
                    groups.insert(front, replacement);
                    front += 1;
                }
            }
        }
        let value = groups.concat().join(" ");
        self.write(&name, &shell::double_quote(&value), &value);
        Ok(())
    }

    /// The file's text.
    pub fn render(&self) -> String {
        self.items.iter().map(|i| i.raw.as_str()).collect()
    }

    /// The index of the last assignment of exactly `name`.
    fn last(&self, name: &str) -> Option<usize> {
        self.items
            .iter()
            .rposition(|i| i.assign.as_ref().is_some_and(|a| a.name == name))
    }

    /// The 1-based line on which item `idx` starts.
    fn line_of(&self, idx: usize) -> usize {
        let before: usize = self.items[..idx]
            .iter()
            .map(|i| i.raw.matches('\n').count())
            .sum();
        before + 1
    }

    /// The decoded value of the assignment at `idx`.
    fn decoded(&self, idx: usize) -> Result<String, ParseError> {
        let Some(assign) = &self.items[idx].assign else {
            return Err(ParseError::new(self.line_of(idx), "not an assignment"));
        };
        assign.decoded.clone().map_err(|why| {
            ParseError::new(
                self.line_of(idx),
                format!(
                    "the value of {} {why}, so it cannot be read or edited safely; \
                     write it with literal text only",
                    assign.name
                ),
            )
        })
    }

    /// The Erlang arguments variable in effect (its name) and its words.
    fn erl_words(&self) -> Result<Option<(String, Vec<String>)>, ParseError> {
        // rabbitmq-env reads the unprefixed spelling when the prefixed one is empty.
        let prefixed = match self.last(ERL_ARGS_VAR) {
            Some(idx) => Some((idx, self.decoded(idx)?)),
            None => None,
        };
        let (idx, value) = match (prefixed, self.last(ERL_ARGS_VAR_UNPREFIXED)) {
            (Some((_, value)), Some(idx)) if value.trim().is_empty() => (idx, self.decoded(idx)?),
            (Some(found), _) => found,
            (None, Some(idx)) => (idx, self.decoded(idx)?),
            (None, None) => return Ok(None),
        };
        let name = self.items[idx]
            .assign
            .as_ref()
            .map_or(ERL_ARGS_VAR, |a| a.name.as_str())
            .to_string();
        let words = shell::split_words(&value).map_err(|what| {
            ParseError::new(
                self.line_of(idx),
                format!("unterminated {what} inside the value of {name}"),
            )
        })?;
        Ok(Some((name, words)))
    }

    /// The line terminator the file uses (that of its first line), `\n` by default.
    fn eol(&self) -> &'static str {
        match self.items.iter().find(|i| i.raw.ends_with('\n')) {
            Some(item) if item.raw.ends_with("\r\n") => "\r\n",
            _ => "\n",
        }
    }

    /// Makes `name`'s value `encoded` (shell text that decodes to `decoded`).
    fn write(&mut self, name: &str, encoded: &str, decoded: &str) {
        let Some(idx) = self.last(name) else {
            self.append(name, encoded, decoded);
            return;
        };
        let item = &mut self.items[idx];
        if let Some(old) = &item.assign {
            let prefix = &item.raw[..old.name_start];
            let tail = &item.raw[old.value.end..];
            let value_start = prefix.len() + name.len() + 1;
            let assign = Assignment {
                name: name.to_string(),
                name_start: prefix.len(),
                value: value_start..value_start + encoded.len(),
                decoded: Ok(decoded.to_string()),
            };
            item.raw = format!("{prefix}{name}={encoded}{tail}");
            item.assign = Some(assign);
        }
        let mut pos = 0;
        self.items.retain(|i| {
            let keep = pos >= idx || i.assign.as_ref().is_none_or(|a| a.name != name);
            pos += 1;
            keep
        });
    }

    /// Appends `NAME=encoded` as a new last line.
    fn append(&mut self, name: &str, encoded: &str, decoded: &str) {
        let eol = self.eol();
        if let Some(last) = self.items.last_mut() {
            if !last.raw.ends_with('\n') {
                last.raw.push_str(eol);
                // A last line ending in a continuation backslash would swallow the new line.
                let probe = format!("{}x", last.raw);
                if shell::logical_lines(&probe).is_ok_and(|lines| lines.len() == 1) {
                    last.raw.push_str(eol);
                }
            }
        }
        self.items.push(Item {
            raw: format!("{name}={encoded}{eol}"),
            assign: Some(Assignment {
                name: name.to_string(),
                name_start: 0,
                value: name.len() + 1..name.len() + 1 + encoded.len(),
                decoded: Ok(decoded.to_string()),
            }),
        });
    }
}
