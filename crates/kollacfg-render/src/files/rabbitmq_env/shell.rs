//! The bits of POSIX sh lexing that `rabbitmq-env.conf` needs: where a logical line ends, what
//! an assignment line assigns, how the shell decodes a value, and how to quote one back.
//!
//! This is not a shell: it never expands anything. A value whose meaning depends on expansion
//! (`$`, backquotes, a leading `~`) is delimited but reported as not statically known. It must
//! not decide what to edit; that is the document's job.

use std::ops::Range;

/// An open construct while delimiting text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Single,
    Double,
    Paren,
    Brace,
    Backquote,
}

impl Ctx {
    fn describe(self) -> &'static str {
        match self {
            Ctx::Single => "single quote",
            Ctx::Double => "double quote",
            Ctx::Paren => "`$(`",
            Ctx::Brace => "`${`",
            Ctx::Backquote => "backquote",
        }
    }
}

/// Text that cannot be delimited: what is open, and the byte offset where it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unterminated {
    pub what: &'static str,
    pub at: usize,
}

impl Unterminated {
    /// An operator-readable message.
    pub fn message(&self) -> String {
        format!(
            "unterminated {} (the shell would fail to source this file)",
            self.what
        )
    }
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Whether a `#` at `i` starts a comment: it must begin a word.
fn starts_word(b: &[u8], i: usize) -> bool {
    i == 0 || b" \t\n;&|()<>".contains(&b[i - 1])
}

/// Walks `b` from `i` with `stack` open. With `until_closed`, stops just after the construct at
/// the bottom of the stack closes; otherwise just after the next newline outside any construct.
/// Returns `b.len()` when the text ends first (the stack then tells what is still open).
fn advance(b: &[u8], mut i: usize, stack: &mut Vec<(Ctx, usize)>, until_closed: bool) -> usize {
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let top = stack.last().map(|s| s.0);
        // `$(` and `${` open a command substitution or a parameter expansion in every context
        // but single quotes.
        let expansion = match (c, next) {
            (b'$', Some(b'(')) => Some(Ctx::Paren),
            (b'$', Some(b'{')) => Some(Ctx::Brace),
            _ => None,
        };
        if let Some(ctx) = expansion.filter(|_| top != Some(Ctx::Single)) {
            stack.push((ctx, i));
            i += 2;
            continue;
        }
        match top {
            Some(Ctx::Single) => {
                if c == b'\'' {
                    stack.pop();
                }
            }
            Some(Ctx::Double) | Some(Ctx::Backquote) => match c {
                b'\\' => i += 1,
                b'"' if top == Some(Ctx::Double) => {
                    stack.pop();
                }
                b'`' if top == Some(Ctx::Backquote) => {
                    stack.pop();
                }
                b'`' => stack.push((Ctx::Backquote, i)),
                b'\'' if top == Some(Ctx::Backquote) => stack.push((Ctx::Single, i)),
                b'"' => stack.push((Ctx::Double, i)),
                _ => {}
            },
            None | Some(Ctx::Paren) | Some(Ctx::Brace) => match c {
                b'\\' => i += 1,
                b'\'' => stack.push((Ctx::Single, i)),
                b'"' => stack.push((Ctx::Double, i)),
                b'`' => stack.push((Ctx::Backquote, i)),
                b'(' if top == Some(Ctx::Paren) => stack.push((Ctx::Paren, i)),
                b')' if top == Some(Ctx::Paren) => {
                    stack.pop();
                }
                b'}' if top == Some(Ctx::Brace) => {
                    stack.pop();
                }
                b'#' if top != Some(Ctx::Brace) && starts_word(b, i) => {
                    while i + 1 < b.len() && b[i + 1] != b'\n' {
                        i += 1;
                    }
                }
                b'\n' if top.is_none() && !until_closed => return i + 1,
                _ => {}
            },
        }
        i += 1;
        if until_closed && stack.is_empty() {
            return i.min(b.len());
        }
    }
    b.len()
}

/// Splits `text` into logical lines: byte ranges covering the whole text, each ending just after
/// a newline (or at the end of the text). Physical lines are joined while a quote or a
/// substitution is open, or after a backslash-newline.
pub(super) fn logical_lines(text: &str) -> Result<Vec<Range<usize>>, Unterminated> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut stack = Vec::new();
    while start < b.len() {
        let end = advance(b, start, &mut stack, false);
        if let Some(&(ctx, at)) = stack.first() {
            return Err(Unterminated {
                what: ctx.describe(),
                at,
            });
        }
        out.push(start..end);
        start = end;
    }
    Ok(out)
}

/// One recognised assignment line: `[blanks][export blanks]NAME=word[blanks][# comment]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Assignment {
    /// The variable name.
    pub name: String,
    /// Byte offset where the name starts (after indentation and `export`).
    pub name_start: usize,
    /// The value word as written (without `NAME=`).
    pub value: Range<usize>,
    /// The value as the shell sees it, or why that is not known without running the shell.
    pub decoded: Result<String, &'static str>,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_blank(b[i]) {
        i += 1;
    }
    i
}

/// Recognises an assignment in `line` (a logical line without its final line terminator).
/// `Ok(None)` for any other shell line; `Err` when a value cannot be delimited.
pub(super) fn parse_assignment(line: &str) -> Result<Option<Assignment>, Unterminated> {
    let b = line.as_bytes();
    let indent = skip_blanks(b, 0);
    let mut name_start = indent;
    if b[indent..].starts_with(b"export") && b.get(indent + 6).copied().is_some_and(is_blank) {
        name_start = skip_blanks(b, indent + 6);
    }
    let mut i = name_start;
    if i >= b.len() || !is_name_start(b[i]) {
        return Ok(None);
    }
    while i < b.len() && is_name_char(b[i]) {
        i += 1;
    }
    if b.get(i) != Some(&b'=') {
        return Ok(None);
    }
    let name = line[name_start..i].to_string();
    let value_start = i + 1;
    let (value_end, decoded) = decode_word(b, value_start)?;
    let rest = skip_blanks(b, value_end);
    if rest < b.len() && b[rest] != b'#' {
        // `NAME=value command` or `A=1 B=2`: not a plain assignment line.
        return Ok(None);
    }
    Ok(Some(Assignment {
        name,
        name_start,
        value: value_start..value_end,
        decoded,
    }))
}

/// Skips the substitution opening at `i` (`$(`, `${` or a backquote); returns the index after it.
fn skip_substitution(b: &[u8], i: usize, ctx: Ctx) -> Result<usize, Unterminated> {
    let mut stack = vec![(ctx, i)];
    let from = if ctx == Ctx::Backquote { i + 1 } else { i + 2 };
    let end = advance(b, from, &mut stack, true);
    match stack.first() {
        Some(&(ctx, at)) => Err(Unterminated {
            what: ctx.describe(),
            at,
        }),
        None => Ok(end),
    }
}

/// Skips a `$` construct at `i`: returns the index after it.
fn skip_dollar(b: &[u8], i: usize) -> Result<usize, Unterminated> {
    match b.get(i + 1) {
        Some(b'(') => skip_substitution(b, i, Ctx::Paren),
        Some(b'{') => skip_substitution(b, i, Ctx::Brace),
        _ => Ok(i + 1),
    }
}

const EXPANSION: &str = "uses `$` expansion";
const BACKQUOTE: &str = "uses command substitution (backquotes)";
const TILDE: &str = "uses tilde expansion";

/// Decodes the shell word starting at `start` the way an assignment reads it (quote removal;
/// no field splitting, no globbing). Returns where the word ends and its value.
fn decode_word(
    b: &[u8],
    start: usize,
) -> Result<(usize, Result<String, &'static str>), Unterminated> {
    let mut out: Vec<u8> = Vec::new();
    let mut dynamic: Option<&'static str> = None;
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => break,
            b'\\' => match b.get(i + 1) {
                Some(b'\n') => i += 2,
                Some(&n) => {
                    out.push(n);
                    i += 2;
                }
                None => {
                    out.push(b'\\');
                    i += 1;
                }
            },
            b'\'' => {
                let close = b[i + 1..]
                    .iter()
                    .position(|&x| x == b'\'')
                    .ok_or(Unterminated {
                        what: Ctx::Single.describe(),
                        at: i,
                    })?;
                out.extend_from_slice(&b[i + 1..i + 1 + close]);
                i += close + 2;
            }
            b'"' => {
                let open = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            return Err(Unterminated {
                                what: Ctx::Double.describe(),
                                at: open,
                            })
                        }
                        Some(b'"') => break,
                        Some(b'\\') => match b.get(i + 1) {
                            Some(b'\n') => i += 2,
                            Some(&n @ (b'$' | b'`' | b'"' | b'\\')) => {
                                out.push(n);
                                i += 2;
                            }
                            _ => {
                                out.push(b'\\');
                                i += 1;
                            }
                        },
                        Some(b'$') => {
                            dynamic.get_or_insert(EXPANSION);
                            i = skip_dollar(b, i)?;
                        }
                        Some(b'`') => {
                            dynamic.get_or_insert(BACKQUOTE);
                            i = skip_substitution(b, i, Ctx::Backquote)?;
                        }
                        Some(&n) => {
                            out.push(n);
                            i += 1;
                        }
                    }
                }
                i += 1;
            }
            b'$' => {
                dynamic.get_or_insert(EXPANSION);
                i = skip_dollar(b, i)?;
            }
            b'`' => {
                dynamic.get_or_insert(BACKQUOTE);
                i = skip_substitution(b, i, Ctx::Backquote)?;
            }
            b'~' if i == start || b[i - 1] == b':' => {
                // Assignments expand a tilde at the start and after each unquoted `:`.
                dynamic.get_or_insert(TILDE);
                out.push(c);
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    let value = match dynamic {
        Some(why) => Err(why),
        // Only whole UTF-8 sequences are copied (every split point is an ASCII byte).
        None => Ok(String::from_utf8_lossy(&out).into_owned()),
    };
    Ok((i, value))
}

/// Splits a decoded value into words the way a second shell pass delimits them: on blanks and
/// newlines, except inside quotes or after a backslash. Each word keeps its raw text, quote
/// characters included. `Err` names the quote left open.
pub(super) fn split_words(value: &str) -> Result<Vec<String>, &'static str> {
    let b = value.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            match b[i] {
                b'\\' => i += 2,
                b'\'' => {
                    let close = b[i + 1..].iter().position(|&x| x == b'\'');
                    i += close.ok_or(Ctx::Single.describe())? + 2;
                }
                b'"' => {
                    i += 1;
                    loop {
                        match b.get(i) {
                            None => return Err(Ctx::Double.describe()),
                            Some(b'\\') => i += 2,
                            Some(b'"') => break,
                            Some(_) => i += 1,
                        }
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        let end = i.min(b.len());
        words.push(value[start..end].to_string());
    }
    Ok(words)
}

/// Whether `value` can be written without quotes: only `[A-Za-z0-9_@%+=:,./-]`.
pub(super) fn is_bare(value: &str) -> bool {
    value
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&c))
}

/// `value` in double quotes, with `\`, `"`, `$` and backquote escaped: the shell reads back
/// exactly `value`.
pub(super) fn double_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Words that open or close a compound command.
const RESERVED: &[&str] = &[
    "if", "then", "elif", "else", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "function", "{", "}", "[[", "]]", "!", "(", ")",
];

/// Why a logical line (without its terminator) keeps kollacfg from editing the file, if it
/// does: `assignment` says whether it is a plain assignment line.
pub(super) fn not_editable(line: &str, assignment: bool) -> Option<String> {
    let shown = |text: &str| {
        let first = text.lines().next().unwrap_or("").trim();
        let cut: String = first.chars().take(40).collect();
        format!("`{}`", cut.escape_debug())
    };
    if line.contains("\\\n") {
        return Some(format!("a line continuation in {}", shown(line)));
    }
    let b = line.as_bytes();
    let (mut in_single, mut in_double) = (false, false);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if !in_single => i += 1,
            b'\'' if !in_double => in_single = !in_single,
            b'"' if !in_single => in_double = !in_double,
            b'#' if !in_single && !in_double && starts_word(b, i) => break,
            b'`' if !in_single => {
                return Some(format!("a command substitution in {}", shown(line)))
            }
            b'$' if !in_single && b.get(i + 1) == Some(&b'(') => {
                return Some(format!("a command substitution in {}", shown(line)))
            }
            b'<' if !in_single && !in_double && b.get(i + 1) == Some(&b'<') => {
                return Some(format!("a heredoc in {}", shown(line)))
            }
            _ => {}
        }
        i += 1;
    }
    if assignment {
        return None;
    }
    let text = line.trim_start_matches([' ', '\t']);
    if text.is_empty() || text.starts_with('#') {
        return None;
    }
    let mut words = text.split([' ', '\t']).filter(|w| !w.is_empty());
    let first = words.next().unwrap_or_default();
    if first == "export" {
        let names_only = words
            .take_while(|w| !w.starts_with('#'))
            .all(|w| w.bytes().all(is_name_char) && w.bytes().next().is_some_and(is_name_start));
        if names_only {
            return None;
        }
    }
    let opener = first.split(['(', ';']).next().unwrap_or(first);
    let what = if RESERVED.contains(&opener) || RESERVED.contains(&first) {
        format!("a shell block (`{}`)", first.escape_debug())
    } else if text.contains("()") || text.contains("( )") {
        "a function definition".to_string()
    } else {
        "a command".to_string()
    };
    Some(format!("{what} in {}", shown(line)))
}
