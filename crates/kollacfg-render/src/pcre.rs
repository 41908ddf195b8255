//! A syntax check of regular expressions as Erlang's `re:compile/1` (PCRE 8, 8-bit, no options)
//! accepts or refuses them: RabbitMQ compiles every policy pattern so, and a pattern it refuses
//! fails the import of the whole definitions file at boot. It never matches anything.
//!
//! It follows PCRE's grammar: literal `{` where no quantifier can start (`a{`, `x{a}`, `a{,5}`),
//! unknown letter escapes as literals (`\q`) but `\L \l \U \u` refused, `\Q...\E`, POSIX classes
//! by name, ranges in order, quantifier counts up to 65535, nothing to repeat, `(?` groups and
//! options (with `x` mode's spaces and comments), named groups (duplicates only under `(?J)` or
//! `(?|`), back references that must name an existing group, conditionals with at most two
//! branches, `(*VERB)`s, `\p{...}` properties, `\x{..}`/`\o{..}`/octal values up to `\377`
//! (`\x{10ffff}` under `(*UTF8)`), and look-behind whose branches each have a fixed length.
//!
//! Where it differs from PCRE, it refuses what PCRE accepts, never the reverse: recursion and
//! subroutine calls (`(?R)`, `(?1)`, `(?&n)`, `\g<n>`; PCRE refuses some as able to loop) and
//! `\p{...}` scripts outside [`SCRIPTS`] are refused. The corpus
//! `crates/kollacfg-render/tests/re_corpus.txt`, with Erlang's verdict on every line, is checked
//! against this module by `tests/re_corpus.rs`, and against the real `re` by an ignored test
//! there.

use std::collections::BTreeSet;

/// Unicode general categories and special properties `\p{...}` takes.
const PROPERTIES: &[&str] = &[
    "Any", "L&", "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No",
    "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl",
    "Zp", "C", "Cc", "Cf", "Cs", "Co", "Cn", "Xan", "Xps", "Xsp", "Xwd", "Xuc",
];

/// The scripts `\p{...}` accepts here (PCRE knows more; those are refused, see the module doc).
pub const SCRIPTS: &[&str] = &[
    "Arabic",
    "Armenian",
    "Bengali",
    "Common",
    "Cyrillic",
    "Devanagari",
    "Georgian",
    "Greek",
    "Gujarati",
    "Han",
    "Hangul",
    "Hebrew",
    "Hiragana",
    "Inherited",
    "Kannada",
    "Katakana",
    "Khmer",
    "Latin",
    "Malayalam",
    "Tamil",
    "Telugu",
    "Thai",
    "Tibetan",
];

const POSIX: &[&str] = &[
    "alpha", "digit", "alnum", "ascii", "blank", "cntrl", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

const VERBS: &[&str] = &[
    "ACCEPT", "FAIL", "F", "COMMIT", "PRUNE", "SKIP", "THEN", "MARK",
];

const START_OPTIONS: &[&str] = &[
    "UTF8",
    "UTF",
    "UCP",
    "CR",
    "LF",
    "CRLF",
    "ANYCRLF",
    "ANY",
    "BSR_ANYCRLF",
    "BSR_UNICODE",
    "NO_START_OPT",
    "NO_AUTO_POSSESS",
];

/// Checks `pattern` as `re:compile/1` would; the error is PCRE's reason, in its words.
pub fn check(pattern: &str) -> Result<(), String> {
    let mut p = Parser {
        b: pattern.as_bytes(),
        i: 0,
        utf: false,
        extended: false,
        dup_names: false,
        groups: 0,
        names: BTreeSet::new(),
        refs: Vec::new(),
        name_refs: Vec::new(),
    };
    p.start_options()?;
    p.alternation(0)?;
    if p.i < p.b.len() {
        return Err("unmatched parentheses".into());
    }
    if p.refs.iter().any(|&n| n == 0 || n > p.groups) {
        return Err("reference to non-existent subpattern".into());
    }
    if p.name_refs.iter().any(|n| !p.names.contains(n)) {
        return Err("reference to non-existent subpattern".into());
    }
    Ok(())
}

/// A fixed length in characters, or `None` when the length varies.
type Len = Option<u32>;

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    utf: bool,
    extended: bool,
    dup_names: bool,
    groups: usize,
    names: BTreeSet<String>,
    refs: Vec<usize>,
    name_refs: Vec<String>,
}

fn err<T>(why: &str) -> Result<T, String> {
    Err(why.to_string())
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn at(&self, s: &str) -> bool {
        self.b[self.i..].starts_with(s.as_bytes())
    }

    fn eat(&mut self, s: &str) -> bool {
        let hit = self.at(s);
        if hit {
            self.i += s.len();
        }
        hit
    }

    /// `(*UTF8)` and the other options that may open a pattern.
    fn start_options(&mut self) -> Result<(), String> {
        while self.at("(*") {
            let Some(end) = self.b[self.i..].iter().position(|&c| c == b')') else {
                return Ok(());
            };
            let name = String::from_utf8_lossy(&self.b[self.i + 2..self.i + end]).into_owned();
            let limit = name.starts_with("LIMIT_MATCH=") || name.starts_with("LIMIT_RECURSION=");
            if !START_OPTIONS.contains(&name.as_str()) && !limit {
                return Ok(());
            }
            self.utf |= name.starts_with("UTF");
            self.i += end + 1;
        }
        Ok(())
    }

    /// Skips spaces and `#` comments in extended mode.
    fn skip_extended(&mut self) {
        while self.extended {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => self.i += 1,
                Some(b'#') => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// `branch ('|' branch)*` up to `)` or the end; the fixed length when every branch has the
    /// same one.
    fn alternation(&mut self, depth: usize) -> Result<(Len, usize), String> {
        if depth > 250 {
            return err("parentheses are too deeply nested");
        }
        let saved = self.extended;
        let mut len = self.branch(depth)?;
        let mut branches = 1;
        let mut same = true;
        while self.eat("|") {
            let next = self.branch(depth)?;
            same &= next == len && len.is_some();
            branches += 1;
            len = next;
        }
        self.extended = saved;
        Ok((if same { len } else { None }, branches))
    }

    /// A sequence of quantified atoms.
    fn branch(&mut self, depth: usize) -> Result<Len, String> {
        let mut total: Len = Some(0);
        loop {
            self.skip_extended();
            let Some(c) = self.peek() else { break };
            if c == b'|' || c == b')' {
                break;
            }
            if matches!(c, b'*' | b'+' | b'?') || (c == b'{' && self.quantifier_ahead()) {
                return err("nothing to repeat");
            }
            let (len, repeatable) = self.atom(depth)?;
            self.skip_extended();
            let len = match self.quantifier()? {
                None => len,
                Some(_) if !repeatable => return err("nothing to repeat"),
                Some((n, Some(m))) if n == m => len.map(|l| l * n),
                Some(_) => None,
            };
            total = total.zip(len).map(|(a, b)| a.saturating_add(b));
        }
        Ok(total)
    }

    /// Whether a `{` at the cursor starts a quantifier (`{n}`, `{n,}`, `{n,m}`).
    fn quantifier_ahead(&self) -> bool {
        let rest = &self.b[self.i + 1..];
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        match rest.get(digits) {
            Some(b'}') => true,
            Some(b',') => {
                let more = rest[digits + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                rest.get(digits + 1 + more) == Some(&b'}')
            }
            _ => false,
        }
    }

    /// An optional quantifier with its `+`/`?` suffix: `(min, max)`.
    fn quantifier(&mut self) -> Result<Option<(u32, Option<u32>)>, String> {
        let q = match self.peek() {
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'?') => (0, Some(1)),
            Some(b'{') if self.quantifier_ahead() => {
                self.i += 1;
                let n = self.number()?;
                let m = if self.eat(",") {
                    if self.peek() == Some(b'}') {
                        None
                    } else {
                        Some(self.number()?)
                    }
                } else {
                    Some(n)
                };
                if m.is_some_and(|m| m < n) {
                    return err("numbers out of order in {} quantifier");
                }
                // The cursor is on `}`, consumed below like a one-character quantifier.
                (n, m)
            }
            _ => return Ok(None),
        };
        self.i += 1;
        if matches!(self.peek(), Some(b'+' | b'?')) {
            self.i += 1;
        }
        self.skip_extended();
        if matches!(self.peek(), Some(b'*' | b'+' | b'?'))
            || (self.peek() == Some(b'{') && self.quantifier_ahead())
        {
            return err("nothing to repeat");
        }
        Ok(Some(q))
    }

    fn number(&mut self) -> Result<u32, String> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
        match text.parse::<u32>() {
            Ok(n) if n <= 65535 => Ok(n),
            _ => err("number too big in {} quantifier"),
        }
    }

    /// One atom: its fixed length, and whether a quantifier may follow it.
    fn atom(&mut self, depth: usize) -> Result<(Len, bool), String> {
        let c = self.peek().unwrap_or_default();
        match c {
            b'(' => self.group(depth),
            b'[' => {
                self.class()?;
                Ok((Some(1), true))
            }
            b'\\' => self.escape(false).map(|e| match e {
                Esc::Char(_) | Esc::Class => (Some(1), true),
                Esc::Assertion => (Some(0), false),
                Esc::Variable => (None, true),
                Esc::Quoted(n) => (Some(n), n > 0),
            }),
            b'^' | b'$' => {
                self.i += 1;
                Ok((Some(0), false))
            }
            _ => {
                self.i += self.char_len();
                Ok((Some(1), true))
            }
        }
    }

    /// The byte length of the character at the cursor (one byte each outside UTF mode).
    fn char_len(&self) -> usize {
        if !self.utf {
            return 1;
        }
        let c = self.b[self.i];
        match c {
            0xf0..=0xff => 4,
            0xe0..=0xef => 3,
            0xc0..=0xdf => 2,
            _ => 1,
        }
    }

    fn name(&mut self, close: u8) -> Result<String, String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        let name = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            return err("group name must start with a non-digit");
        }
        if !self.eat(std::str::from_utf8(&[close]).unwrap_or(")")) {
            return err("syntax error in subpattern name (missing terminator)");
        }
        Ok(name)
    }

    fn define_name(&mut self, name: String) -> Result<(), String> {
        if !self.names.insert(name) && !self.dup_names {
            return err("two named subpatterns have the same name");
        }
        Ok(())
    }

    fn group(&mut self, depth: usize) -> Result<(Len, bool), String> {
        self.i += 1;
        if self.eat("*") {
            let start = self.i;
            while self.peek().is_some_and(|c| c != b')' && c != b':') {
                self.i += 1;
            }
            let verb = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
            if !VERBS.contains(&verb.as_str()) && !verb.is_empty() {
                return err("(*VERB) not recognized or malformed");
            }
            while self.peek().is_some_and(|c| c != b')') {
                self.i += 1;
            }
            if !self.eat(")") {
                return err("(*VERB) not recognized or malformed");
            }
            return Ok((Some(0), false));
        }
        if !self.eat("?") {
            self.groups += 1;
            return self.group_body(depth, true, false);
        }
        if self.eat("#") {
            while self.peek().is_some_and(|c| c != b')') {
                self.i += 1;
            }
            if !self.eat(")") {
                return err("missing ) after comment");
            }
            return Ok((Some(0), false));
        }
        for (open, repeatable, behind) in [
            (":", true, false),
            (">", true, false),
            ("=", true, false),
            ("!", true, false),
            ("<=", true, true),
            ("<!", true, true),
        ] {
            if self.eat(open) {
                let (len, _) = self.group_body(depth, repeatable, behind)?;
                let assertion = matches!(open, "=" | "!" | "<=" | "<!");
                return Ok((if assertion { Some(0) } else { len }, repeatable));
            }
        }
        if self.eat("|") {
            let saved = self.dup_names;
            self.dup_names = true;
            let out = self.group_body(depth, true, false);
            self.dup_names = saved;
            return out;
        }
        if self.eat("P<") || (self.at("<") && !self.at("<=") && !self.at("<!") && self.eat("<")) {
            let name = self.name(b'>')?;
            self.groups += 1;
            self.define_name(name)?;
            return self.group_body(depth, true, false);
        }
        if self.eat("'") {
            let name = self.name(b'\'')?;
            self.groups += 1;
            self.define_name(name)?;
            return self.group_body(depth, true, false);
        }
        if self.eat("P=") {
            let name = self.name(b')')?;
            self.name_refs.push(name);
            return Ok((None, true));
        }
        if self.eat("(") {
            return self.conditional(depth);
        }
        if self.at("R")
            || self.at("&")
            || self.at("P>")
            || self
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || c == b'+' || c == b'-')
                && !self.option_letters_ahead()
        {
            return err("recursion and subroutine calls are not accepted in a policy pattern");
        }
        self.options(depth)
    }

    /// Whether `-` at the cursor begins option letters (`(?-i)`) rather than a relative call.
    fn option_letters_ahead(&self) -> bool {
        self.peek() == Some(b'-')
            && self
                .b
                .get(self.i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic())
    }

    /// `(?imsxXUJ-imsxXUJ)` or `(?imsx:...)`.
    fn options(&mut self, depth: usize) -> Result<(Len, bool), String> {
        let mut on = true;
        let mut extended = self.extended;
        loop {
            match self.peek() {
                Some(b'-') if on => on = false,
                Some(b'x') => extended = on,
                Some(b'J') => self.dup_names |= on,
                Some(b'i' | b'm' | b's' | b'X' | b'U') => {}
                Some(b')') => {
                    self.i += 1;
                    self.extended = extended;
                    return Ok((Some(0), false));
                }
                Some(b':') => {
                    self.i += 1;
                    let saved = self.extended;
                    self.extended = extended;
                    let out = self.group_body(depth, true, false);
                    self.extended = saved;
                    return out;
                }
                _ => return err("unrecognized character after (? or (?-"),
            }
            self.i += 1;
        }
    }

    /// `(?(condition)yes|no)`.
    fn conditional(&mut self, depth: usize) -> Result<(Len, bool), String> {
        if self.at("?=") || self.at("?!") || self.at("?<=") || self.at("?<!") {
            self.i -= 1;
            self.atom(depth)?;
        } else if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            let n: usize = std::str::from_utf8(&self.b[start..self.i])
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
            self.refs.push(n);
            if !self.eat(")") {
                return err("malformed number or name after (?(");
            }
        } else if self.eat("<") {
            let name = self.name(b'>')?;
            self.name_refs.push(name);
            if !self.eat(")") {
                return err("malformed number or name after (?(");
            }
        } else if self.eat("'") {
            let name = self.name(b'\'')?;
            self.name_refs.push(name);
            if !self.eat(")") {
                return err("malformed number or name after (?(");
            }
        } else {
            let start = self.i;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'&')
            {
                self.i += 1;
            }
            let name = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
            if name.is_empty() || !self.eat(")") {
                return err("malformed number or name after (?(");
            }
            if name != "DEFINE" && !name.starts_with('R') {
                self.name_refs.push(name);
            }
        }
        let (_, branches) = self.alternation(depth + 1)?;
        if branches > 2 {
            return err("conditional group contains more than two branches");
        }
        if !self.eat(")") {
            return err("missing )");
        }
        Ok((None, true))
    }

    /// The inside of a group up to its `)`.
    fn group_body(
        &mut self,
        depth: usize,
        repeatable: bool,
        behind: bool,
    ) -> Result<(Len, bool), String> {
        let (len, _) = if behind {
            // Each top-level branch of a look-behind must have a fixed length of its own.
            let saved = self.extended;
            let mut lens = vec![self.branch(depth + 1)?];
            while self.eat("|") {
                lens.push(self.branch(depth + 1)?);
            }
            self.extended = saved;
            if lens.iter().any(Option::is_none) {
                return err("lookbehind assertion is not fixed length");
            }
            (Some(0), lens.len())
        } else {
            self.alternation(depth + 1)?
        };
        if !self.eat(")") {
            return err("missing )");
        }
        Ok((len, repeatable))
    }

    /// `[...]`.
    fn class(&mut self) -> Result<(), String> {
        self.i += 1;
        self.eat("^");
        let mut first = true;
        // The previous item, when it can start a range: its value.
        let mut prev: Option<u32> = None;
        // Inside `\Q...\E` every character is a literal.
        let mut quoted = false;
        loop {
            let Some(c) = self.peek() else {
                return err("missing terminating ] for character class");
            };
            if self.eat("\\E") {
                quoted = false;
                continue;
            }
            if !quoted && self.eat("\\Q") {
                quoted = true;
                continue;
            }
            if quoted {
                first = false;
                prev = Some(self.char_value(c));
                self.i += self.char_len();
                continue;
            }
            if c == b']' && !first {
                self.i += 1;
                return Ok(());
            }
            first = false;
            if self.at("[:") || self.at("[=") || self.at("[.") {
                if let Some(len) = self.posix()? {
                    self.i += len;
                    prev = None;
                    continue;
                }
            }
            if c == b'-' && prev.is_some() && self.b.get(self.i + 1).is_some_and(|&n| n != b']') {
                self.i += 1;
                let low = prev.take().unwrap_or_default();
                if self.eat("\\Q") {
                    quoted = true;
                }
                let high = match self.peek() {
                    Some(ch) if quoted => {
                        let v = self.char_value(ch);
                        self.i += self.char_len();
                        v
                    }
                    Some(b'\\') => match self.escape(true)? {
                        Esc::Char(v) => v,
                        _ => return err("invalid range in character class"),
                    },
                    Some(b'[') if self.at("[:") => return err("invalid range in character class"),
                    Some(ch) => {
                        let v = self.char_value(ch);
                        self.i += self.char_len();
                        v
                    }
                    None => return err("missing terminating ] for character class"),
                };
                if high < low {
                    return err("range out of order in character class");
                }
                continue;
            }
            if c == b'\\' {
                prev = match self.escape(true)? {
                    Esc::Char(v) => Some(v),
                    Esc::Quoted(_) | Esc::Class | Esc::Assertion | Esc::Variable => None,
                };
                continue;
            }
            prev = Some(self.char_value(c));
            self.i += self.char_len();
        }
    }

    fn char_value(&self, c: u8) -> u32 {
        if self.utf && c >= 0x80 {
            let len = self.char_len();
            std::str::from_utf8(&self.b[self.i..self.i + len])
                .ok()
                .and_then(|s| s.chars().next())
                .map_or(u32::from(c), u32::from)
        } else {
            u32::from(c)
        }
    }

    /// A POSIX class `[:name:]` at the cursor: its length, or `None` when it is not one.
    fn posix(&mut self) -> Result<Option<usize>, String> {
        let kind = self.b[self.i + 1];
        let rest = &self.b[self.i + 2..];
        let Some(end) = rest.windows(2).position(|w| w[0] == kind && w[1] == b']') else {
            return Ok(None);
        };
        if rest[..end].iter().any(|&c| c == b']' || c == b'[') {
            return Ok(None);
        }
        if kind != b':' {
            return err("POSIX collating elements are not supported");
        }
        let name = String::from_utf8_lossy(&rest[..end]).into_owned();
        let name = name.strip_prefix('^').unwrap_or(&name);
        if !POSIX.contains(&name) {
            return err("unknown POSIX class name");
        }
        Ok(Some(end + 4))
    }

    /// One escape at the cursor (`\` included).
    fn escape(&mut self, in_class: bool) -> Result<Esc, String> {
        self.i += 1;
        let Some(c) = self.peek() else {
            return err("\\ at end of pattern");
        };
        self.i += 1;
        let max = if self.utf { 0x10ffff } else { 0xff };
        Ok(match c {
            b'0' => Esc::Char(self.octal_digits(2)),
            b'1'..=b'9' if !in_class => {
                self.i -= 1;
                let start = self.i;
                while self.peek().is_some_and(|d| d.is_ascii_digit()) {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("0");
                let n: usize = text.parse().unwrap_or(usize::MAX);
                if n < 8 || n <= self.groups || (n < 10 && c >= b'8') {
                    if n >= 8 && n > self.groups && n < 10 {
                        return Ok(Esc::Char(u32::from(c)));
                    }
                    self.refs.push(n);
                    return Ok(Esc::Variable);
                }
                self.i = start;
                let v = self.octal_digits(3);
                if v > max {
                    return err("octal value is greater than \\377 in 8-bit non-UTF-8 mode");
                }
                if self.i == start {
                    self.i += 1;
                }
                Esc::Char(v)
            }
            b'1'..=b'9' => {
                self.i -= 1;
                let v = self.octal_digits(3);
                if v > max {
                    return err("octal value is greater than \\377 in 8-bit non-UTF-8 mode");
                }
                Esc::Char(v)
            }
            b'x' => {
                if self.eat("{") {
                    let v = self.braced(16)?;
                    if v > max {
                        return err("character value in \\x{} or \\o{} is too large");
                    }
                    Esc::Char(v)
                } else {
                    let start = self.i;
                    while self.i < start + 2 && self.peek().is_some_and(|d| d.is_ascii_hexdigit()) {
                        self.i += 1;
                    }
                    let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
                    Esc::Char(u32::from_str_radix(text, 16).unwrap_or(0))
                }
            }
            b'o' => {
                if !self.eat("{") {
                    return err("missing opening brace after \\o");
                }
                let v = self.braced(8)?;
                if v > max {
                    return err("character value in \\x{} or \\o{} is too large");
                }
                Esc::Char(v)
            }
            b'c' => match self.peek() {
                Some(ch) if ch.is_ascii() => {
                    self.i += 1;
                    Esc::Char(u32::from(ch.to_ascii_uppercase() ^ 0x40))
                }
                _ => return err("\\c must be followed by an ASCII character"),
            },
            b'Q' => {
                let start = self.i;
                let end = self.b[start..]
                    .windows(2)
                    .position(|w| w == b"\\E")
                    .map_or(self.b.len(), |p| start + p);
                let n = (end - start) as u32;
                self.i = (end + 2).min(self.b.len());
                if in_class {
                    return Ok(Esc::Quoted(0));
                }
                Esc::Quoted(n)
            }
            b'E' => Esc::Quoted(0),
            b'L' | b'l' | b'U' | b'u' => {
                return err("PCRE does not support \\L, \\l, \\N{name}, \\U, or \\u")
            }
            b'N' if self.peek() == Some(b'{') => {
                return err("PCRE does not support \\L, \\l, \\N{name}, \\U, or \\u")
            }
            b'p' | b'P' => {
                let name = if self.eat("{") {
                    let start = self.i;
                    while self.peek().is_some_and(|ch| ch != b'}') {
                        self.i += 1;
                    }
                    let name = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
                    if !self.eat("}") {
                        return err("malformed \\P or \\p sequence");
                    }
                    name
                } else {
                    let Some(ch) = self.peek() else {
                        return err("malformed \\P or \\p sequence");
                    };
                    self.i += 1;
                    char::from(ch).to_string()
                };
                let name = name.strip_prefix('^').unwrap_or(&name);
                if !PROPERTIES.contains(&name) && !SCRIPTS.contains(&name) {
                    return err("unknown property name after \\P or \\p");
                }
                Esc::Class
            }
            b'g' if !in_class => self.g_reference()?,
            b'k' if !in_class => {
                let close = match self.peek() {
                    Some(b'<') => b'>',
                    Some(b'\'') => b'\'',
                    Some(b'{') => b'}',
                    _ => {
                        return err(
                            "\\k is not followed by a braced, angle-bracketed, or quoted name",
                        )
                    }
                };
                self.i += 1;
                let name = self.name(close)?;
                self.name_refs.push(name);
                Esc::Variable
            }
            b'd' | b'D' | b'w' | b'W' | b's' | b'S' | b'h' | b'H' | b'v' | b'V' => Esc::Class,
            b'N' | b'C' if !in_class => Esc::Class,
            b'R' | b'X' if !in_class => Esc::Variable,
            b'b' if in_class => Esc::Char(8),
            b'b' | b'B' | b'A' | b'z' | b'Z' | b'G' | b'K' if !in_class => Esc::Assertion,
            b'a' => Esc::Char(7),
            b'e' => Esc::Char(27),
            b'f' => Esc::Char(12),
            b'n' => Esc::Char(10),
            b'r' => Esc::Char(13),
            b't' => Esc::Char(9),
            _ => {
                self.i -= 1;
                let v = self.char_value(c);
                self.i += self.char_len();
                Esc::Char(v)
            }
        })
    }

    /// `\g{n}`, `\g{-n}`, `\gn`, `\g-n`, `\g{name}`; `\g<...>` (a subroutine call) is refused.
    fn g_reference(&mut self) -> Result<Esc, String> {
        if matches!(self.peek(), Some(b'<' | b'\'')) {
            return err("recursion and subroutine calls are not accepted in a policy pattern");
        }
        let braced = self.eat("{");
        let negative = self.eat("-");
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i == start {
            if !braced || negative {
                return err("a numbered reference must not be zero");
            }
            let name = self.name(b'}')?;
            self.name_refs.push(name);
            return Ok(Esc::Variable);
        }
        let n: usize = std::str::from_utf8(&self.b[start..self.i])
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        if braced && !self.eat("}") {
            return err("\\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number");
        }
        let n = if negative {
            if n == 0 || n > self.groups {
                return err("reference to non-existent subpattern");
            }
            self.groups + 1 - n
        } else {
            n
        };
        self.refs.push(n);
        Ok(Esc::Variable)
    }

    fn octal_digits(&mut self, max_digits: usize) -> u32 {
        let start = self.i;
        while self.i < start + max_digits && self.peek().is_some_and(|d| (b'0'..=b'7').contains(&d))
        {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
        u32::from_str_radix(text, 8).unwrap_or(0)
    }

    fn braced(&mut self, radix: u32) -> Result<u32, String> {
        let start = self.i;
        while self.peek().is_some_and(|d| char::from(d).is_digit(radix)) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
        if !self.eat("}") || text.is_empty() {
            return err("non-hex character in \\x{} (closing brace missing?)");
        }
        Ok(u32::from_str_radix(text, radix).unwrap_or(u32::MAX))
    }
}

/// What an escape stands for.
enum Esc {
    /// One character with this value.
    Char(u32),
    /// One character of a class (`\d`, `\p{L}`).
    Class,
    /// A zero-width assertion (`\b`, `\A`, `\K`).
    Assertion,
    /// Text of varying length (`\R`, `\X`, a back reference).
    Variable,
    /// `\Q...\E` quoting this many characters.
    Quoted(u32),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// Any input ends in a verdict, never a panic; and what the engine's old fast path
        /// accepted by construction, this check accepts too.
        #[test]
        fn any_pattern_gets_a_verdict(p in "[a-c0-9.^$|()?:=!<>*+,PRgkQEx{}#'\\\\\\-\\[\\]é ]{0,16}") {
            let verdict = check(&p);
            if crate::validate::simple_pattern(&p) {
                prop_assert!(verdict.is_ok(), "{:?}: {:?}", p, verdict);
            }
        }
    }
}
