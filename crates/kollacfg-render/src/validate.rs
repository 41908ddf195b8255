//! Value checks the CRD schema cannot express, shared by every fragment kind: injection
//! guards, RabbitMQ policy keys and their types, Erlang flag syntax and ranges, versions.
//! Each check returns the reason an operator reads; the caller names resource and field.

use serde_json::Value;

use crate::erl_flags;

/// Characters allowed in a value written into `rabbitmq-env.conf` (which the shell sources).
const ENV_SAFE: &str = "_@%+=:,./- ";

/// Refuses values that could break out of their line: newline, carriage return, NUL.
pub fn single_line(value: &str) -> Result<(), String> {
    if let Some(c) = value.chars().find(|c| matches!(c, '\n' | '\r' | '\0')) {
        return Err(format!(
            "value contains {} which could inject a new line or truncate the file",
            describe_char(c)
        ));
    }
    Ok(())
}

/// Refuses an INI/conf value that oslo.config or cuttlefish would read differently from what
/// was written (surrounding whitespace is stripped by both) or that could inject a line.
pub fn plain_value(value: &str) -> Result<(), String> {
    single_line(value)?;
    if value.trim() != value {
        return Err("value has leading or trailing whitespace, which the reader strips".into());
    }
    Ok(())
}

/// An INI value oslo.config reads back exactly: [`plain_value`], and not wrapped in a pair of
/// matching quotes (oslo strips one such pair).
pub fn ini_value(value: &str) -> Result<(), String> {
    plain_value(value)?;
    let quoted = value.len() >= 2
        && [('"', '"'), ('\'', '\'')]
            .iter()
            .any(|(a, b)| value.starts_with(*a) && value.ends_with(*b));
    if quoted {
        return Err("value is wrapped in quotes, which oslo.config strips".into());
    }
    Ok(())
}

/// A `rabbitmq.conf` value cuttlefish (RabbitMQ 3.10's config parser) reads back exactly:
/// [`plain_value`], non-empty, no `#` (a comment starts there, even inside a word), no quote
/// characters (a value in single quotes is read without them), and only printable Latin-1
/// characters: RabbitMQ turns values into Latin-1 strings and binaries, and refuses to boot on
/// a character beyond U+00FF or a control character.
pub fn conf_value(value: &str) -> Result<(), String> {
    plain_value(value)?;
    if value.is_empty() {
        return Err("rabbitmq.conf values may not be empty".into());
    }
    if let Some(c) = value.chars().find(|c| matches!(c, '#' | '\'' | '"')) {
        return Err(format!(
            "value contains {c:?}, which RabbitMQ's config parser would not read back as written"
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control() || *c > '\u{ff}') {
        return Err(format!(
            "value contains {}, outside the printable Latin-1 characters RabbitMQ's config \
             parser reads back",
            c.escape_unicode()
        ));
    }
    Ok(())
}

/// Refuses anything the shell would interpret when it sources `rabbitmq-env.conf`.
pub fn shell_safe(value: &str) -> Result<(), String> {
    single_line(value)?;
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ENV_SAFE.contains(*c)))
    {
        Some(c) => Err(format!(
            "value contains {}, a shell metacharacter (rabbitmq-env.conf is sourced by the shell); \
             allowed are letters, digits, spaces and {ENV_SAFE:?}",
            describe_char(c)
        )),
        None => Ok(()),
    }
}

/// A `rabbitmq-env.conf` value that sets its variable: rabbitmq-env reads an empty
/// `RABBITMQ_X` as unset and falls back to `X`, so an empty value would not be read as meant.
pub fn env_value_set(name: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        let short = name.strip_prefix("RABBITMQ_").unwrap_or(name);
        return Err(format!(
            "an empty {name} reads as unset (rabbitmq-env then uses {short} or the default); \
             remove the entry instead"
        ));
    }
    Ok(())
}

/// A shell variable name.
pub fn env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a shell variable name ([A-Za-z_][A-Za-z0-9_]*)"
        ))
    }
}

/// The variables RabbitMQ documents for `rabbitmq-env.conf` ("Environment Variables" in
/// RabbitMQ's configuration guide, 3.10), without their `RABBITMQ_` prefix.
const RABBITMQ_ENV_DOCUMENTED: &[&str] = &[
    "ADVANCED_CONFIG_FILE",
    "BOOT_MODULE",
    "CONFIG_FILE",
    "CONFIG_FILES",
    "CONF_ENV_FILE",
    "CTL_DIST_PORT_MAX",
    "CTL_DIST_PORT_MIN",
    "DEFAULT_PASS",
    "DEFAULT_USER",
    "DEFAULT_VHOST",
    "DISTRIBUTION_BUFFER_SIZE",
    "DIST_PORT",
    "ENABLED_PLUGINS_FILE",
    "ERLANG_COOKIE",
    "FEATURE_FLAGS",
    "IO_THREAD_POOL_SIZE",
    "KEEP_PID_FILE_ON_EXIT",
    "LOG",
    "LOGS",
    "LOG_BASE",
    "MAX_NUMBER_OF_ATOMS",
    "MAX_NUMBER_OF_PROCESSES",
    "MNESIA_BASE",
    "MNESIA_DIR",
    "NODENAME",
    "NODE_IP_ADDRESS",
    "NODE_PORT",
    "PID_FILE",
    "PLUGINS_DIR",
    "PLUGINS_EXPAND_DIR",
    "QUORUM_DIR",
    "SCHEDULER_BIND_TYPE",
    "STREAM_DIR",
    "USE_LONGNAME",
];

/// Variables that change how RabbitMQ's start script itself runs, with the reason.
const RABBITMQ_ENV_REFUSED: &[(&str, &str)] = &[
    (
        "SERVER_START_ARGS",
        "replaces the arguments the start script passes to the VM",
    ),
    (
        "SERVER_ERL_ARGS",
        "replaces RabbitMQ's own VM arguments (use ErlangVmArgs)",
    ),
    (
        "CTL_ERL_ARGS",
        "changes the VM arguments of rabbitmqctl and the start script's checks",
    ),
    ("SERVER_CODE_PATH", "puts other code on the VM's code path"),
    ("ALLOW_INPUT", "changes how the start script runs the VM"),
];

/// A `ConfigOverride.env` name: one of the variables RabbitMQ documents for `rabbitmq-env.conf`,
/// spelt with its `RABBITMQ_` prefix (the spelling kolla's file uses and the one that wins when
/// both are set: one spelling per variable keeps precedence and conflicts meaningful), or
/// `ERL_EPMD_ADDRESS`/`ERL_EPMD_PORT`. Anything else, `IFS`, `PATH`, `LD_PRELOAD` and the
/// variables that change how the start script runs included, is refused with the reason.
pub fn rabbitmq_env_var(name: &str) -> Result<(), String> {
    env_name(name)?;
    if matches!(name, "ERL_EPMD_ADDRESS" | "ERL_EPMD_PORT") {
        return Ok(());
    }
    let stem = name.strip_prefix("RABBITMQ_").unwrap_or(name);
    if let Some((_, why)) = RABBITMQ_ENV_REFUSED.iter().find(|(n, _)| *n == stem) {
        return Err(format!(
            "{name} {why}; it is not set through ConfigOverride"
        ));
    }
    if RABBITMQ_ENV_DOCUMENTED.contains(&stem) {
        if stem == name {
            return Err(format!(
                "write RABBITMQ_{name}: the prefixed spelling is the one kolla's file uses and \
                 the one that wins; one spelling per variable keeps precedence"
            ));
        }
        return Ok(());
    }
    Err(format!(
        "{name} is not a variable RabbitMQ documents for rabbitmq-env.conf; other variables \
         (IFS, PATH, LD_PRELOAD, ...) change how the start script itself runs"
    ))
}

/// An INI section name or option key.
pub fn ini_name(what: &str, name: &str) -> Result<(), String> {
    single_line(name)?;
    // oslo.config strips whitespace from keys, control characters included (Python's
    // str.strip), and reads section names in lower case (DEFAULT aside): a spelling that would
    // name another item than the one merged is refused.
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{what} {:?} contains {}, which oslo.config strips or misreads",
            crate::issue::printable(name),
            describe_char(c)
        ));
    }
    if what == "section" && name != "DEFAULT" && name.chars().any(|c| c.is_uppercase()) {
        return Err(format!(
            "section {name:?}: oslo.config reads section names in lower case; write [{}]",
            name.to_lowercase()
        ));
    }
    if name.is_empty() || name.trim() != name {
        return Err(format!(
            "{what} {name:?} is empty or has surrounding whitespace"
        ));
    }
    let bad: &[char] = if what == "section" {
        &['[', ']']
    } else {
        &['=', ':', '[', ']', ' ', '\t']
    };
    if let Some(c) = name.chars().find(|c| bad.contains(c)) {
        return Err(format!("{what} {name:?} contains {}", describe_char(c)));
    }
    if name.starts_with('#') || name.starts_with(';') {
        return Err(format!("{what} {name:?} would be read as a comment"));
    }
    Ok(())
}

/// A `rabbitmq.conf` key as cuttlefish reads one: words of letters, digits, `_` and `-`,
/// joined by single dots. Anything else (punctuation, spaces, an empty word, cuttlefish's `\.`
/// escape, which would name another key than the one merged) makes RabbitMQ refuse the file.
pub fn conf_key(key: &str) -> Result<(), String> {
    single_line(key)?;
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if key.split('.').all(word_ok) {
        return Ok(());
    }
    let why = match key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_-.".contains(*c)))
    {
        Some(c) => format!("contains {}", c.escape_debug()),
        None => "has an empty word (a leading, trailing or doubled dot)".to_string(),
    };
    Err(format!(
        "{:?} {why}: a rabbitmq.conf key is words of letters, digits, '_' and '-' joined by \
         single dots, or RabbitMQ refuses the file",
        crate::issue::printable(key)
    ))
}

/// A plain file name inside a kolla service directory.
pub fn file_name(file: &str) -> Result<(), String> {
    let ok = !file.is_empty()
        && file != "."
        && file != ".."
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !file.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{file:?} is not a plain file name (letters, digits, '.', '_', '-'; no '/')"
        ))
    }
}

/// A kolla service directory name.
pub fn service_name(service: &str) -> Result<(), String> {
    let ok = !service.is_empty()
        && service.len() <= 63
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !service.starts_with('-')
        && !service.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{service:?} is not a kolla service directory name (a DNS-1123 label: at most 63 \
             lowercase letters, digits and '-', starting and ending with a letter or digit)"
        ))
    }
}

/// Parses a RabbitMQ version such as `3.13` or `4.0.5` into `(major, minor)`.
pub fn rabbitmq_version(version: &str) -> Result<(u32, u32), String> {
    let mut parts = version.split('.');
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().map_or(Some(0), |p| p.parse::<u32>().ok());
    let rest_ok = parts.all(|p| p.parse::<u32>().is_ok());
    match (major, minor, rest_ok) {
        (Some(major), Some(minor), true) => Ok((major, minor)),
        _ => Err(format!(
            "{version:?} is not a RabbitMQ version (MAJOR.MINOR, e.g. \"3.13\")"
        )),
    }
}

/// Checks a policy pattern as RabbitMQ compiles it, with Erlang's `re` (PCRE 8, no options):
/// [`crate::pcre::check`]. A pattern `re` refuses would fail the import of the whole
/// definitions file at boot. Look-around such as `^(?!amq\.).*` is accepted.
pub fn policy_pattern(pattern: &str) -> Result<(), String> {
    single_line(pattern)?;
    crate::pcre::check(pattern).map_err(|e| {
        format!(
            "pattern {:?} does not compile in Erlang's re, as RabbitMQ compiles it: {e}",
            crate::issue::printable(pattern)
        )
    })
}

/// Whether `pattern` lies in a subset of regular-expression syntax that PCRE (and the full
/// engine) accept by construction, so it needs no compile: printable ASCII literals, escaped
/// punctuation, `\d` `\w` `\s` and their negations, `.`, `^`, `$`, `|`, simple classes such
/// as `[0-9a-f_-]`, groups `(...)` and `(?:...)`, look-ahead `(?=...)` / `(?!...)`,
/// look-behind over fixed-length literal text (`(?<!-dlx)`), and one quantifier (`*`, `+`,
/// `?`, `{n}`, `{n,}`, `{n,m}` up to 1000, optionally lazy) after a quantifiable atom.
/// Anything else returns false and gets the full check.
pub fn simple_pattern(pattern: &str) -> bool {
    let mut p = Subset {
        b: pattern.as_bytes(),
        i: 0,
    };
    p.alternation(false) && p.i == p.b.len()
}

/// A recursive-descent recogniser for [`simple_pattern`]'s subset.
struct Subset<'a> {
    b: &'a [u8],
    i: usize,
}

impl Subset<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, s: &[u8]) -> bool {
        if self.b[self.i..].starts_with(s) {
            self.i += s.len();
            true
        } else {
            false
        }
    }

    /// `seq ('|' seq)*`; inside a look-behind, one fixed-length sequence only.
    fn alternation(&mut self, behind: bool) -> bool {
        loop {
            if !self.sequence(behind) {
                return false;
            }
            if self.peek() != Some(b'|') {
                return true;
            }
            if behind {
                return false;
            }
            self.i += 1;
        }
    }

    fn sequence(&mut self, behind: bool) -> bool {
        while let Some(c) = self.peek() {
            match c {
                b'|' | b')' => return true,
                b'^' | b'$' if !behind => self.i += 1,
                _ => {
                    let Some(quantifiable) = self.atom(behind) else {
                        return false;
                    };
                    if matches!(self.peek(), Some(b'*' | b'+' | b'?' | b'{')) {
                        if !quantifiable || behind || !self.quantifier() {
                            return false;
                        }
                        if matches!(self.peek(), Some(b'*' | b'+' | b'?' | b'{')) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// One atom; `Some(quantifiable)` when recognised.
    fn atom(&mut self, behind: bool) -> Option<bool> {
        match self.peek()? {
            b'\\' => self.escape().then_some(true),
            b'[' => self.class().then_some(true),
            b'(' => self.group(behind),
            b'.' => {
                self.i += 1;
                Some(true)
            }
            b'*' | b'+' | b'?' | b'{' | b'}' | b']' | b'^' | b'$' => None,
            c if c.is_ascii_graphic() || c == b' ' => {
                self.i += 1;
                Some(true)
            }
            _ => None,
        }
    }

    fn escape(&mut self) -> bool {
        let Some(&next) = self.b.get(self.i + 1) else {
            return false;
        };
        let ok = (next.is_ascii_punctuation() && !matches!(next, b'<' | b'>' | b'_'))
            || matches!(next, b'd' | b'D' | b'w' | b'W' | b's' | b'S');
        self.i += 2;
        ok
    }

    fn group(&mut self, behind: bool) -> Option<bool> {
        let (quantifiable, inner_behind) = if self.eat(b"(?:") {
            (true, behind)
        } else if self.eat(b"(?=") || self.eat(b"(?!") {
            (false, behind)
        } else if self.eat(b"(?<=") || self.eat(b"(?<!") {
            (false, true)
        } else if self.eat(b"(?") {
            return None;
        } else {
            self.i += 1;
            (true, behind)
        };
        if behind && quantifiable {
            return None;
        }
        let start = self.i;
        let ok = self.alternation(inner_behind) && self.eat(b")");
        // An empty group is valid, but not every engine lets it be repeated.
        ok.then_some(quantifiable && self.i > start + 1)
    }

    /// `[^? item+ ]` where an item is a literal, an escape or a range `a-z` with a <= z.
    fn class(&mut self) -> bool {
        self.i += 1;
        self.eat(b"^");
        let first = self.i;
        loop {
            let Some(c) = self.peek() else { return false };
            match c {
                b']' if self.i > first => {
                    self.i += 1;
                    return true;
                }
                b'\\' => {
                    if !self.escape() {
                        return false;
                    }
                }
                b'-' if self.i == first || self.b.get(self.i + 1) == Some(&b']') => self.i += 1,
                b'[' | b']' | b'&' | b'~' | b'-' => return false,
                c if c.is_ascii_graphic() || c == b' ' => {
                    self.i += 1;
                    if self.peek() == Some(b'-') && self.b.get(self.i + 1) != Some(&b']') {
                        let Some(&end) = self.b.get(self.i + 1) else {
                            return false;
                        };
                        let literal = end.is_ascii_alphanumeric();
                        if !literal || !c.is_ascii_alphanumeric() || end < c {
                            return false;
                        }
                        self.i += 2;
                    }
                }
                _ => return false,
            }
        }
    }

    /// `*`, `+`, `?`, `{n}`, `{n,}` or `{n,m}` (n <= m <= 1000), then an optional lazy `?`.
    fn quantifier(&mut self) -> bool {
        if self.eat(b"{") {
            let Some(n) = self.number() else { return false };
            let m = if self.eat(b",") {
                if self.peek() == Some(b'}') {
                    Some(n)
                } else {
                    self.number()
                }
            } else {
                Some(n)
            };
            if m.is_none_or(|m| m < n) || !self.eat(b"}") {
                return false;
            }
        } else {
            self.i += 1;
        }
        self.eat(b"?");
        true
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) && self.i - start < 4 {
            self.i += 1;
        }
        let n: u32 = std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()?;
        (n <= 1000).then_some(n)
    }
}

/// The values of `applyTo`.
pub const APPLY_TO: &[&str] = &[
    "all",
    "queues",
    "exchanges",
    "classic_queues",
    "quorum_queues",
    "streams",
];

pub use crate::erl_flags::BUSY_WAIT;

/// Checks that `value` is one of `allowed`.
pub fn one_of(value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!("{value:?} is not one of {}", allowed.join(", ")))
    }
}

/// Checks `min <= value <= max`.
pub fn in_range(value: i64, min: i64, max: i64) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else if max == i64::MAX {
        Err(format!("{value} is below the minimum {min}"))
    } else {
        Err(format!("{value} is outside {min}..={max}"))
    }
}

/// Checks a ratio: finite and `>= 0`.
pub fn ratio(value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(format!("{value} must be a finite number >= 0.0"))
    }
}

/// Erlang's `+S Schedulers:SchedulersOnline`.
pub fn schedulers(value: &str) -> Result<(), String> {
    let parsed = value
        .split_once(':')
        .and_then(|(n, m)| Some((n.parse::<i64>().ok()?, m.parse::<i64>().ok()?)));
    match parsed {
        Some((n, m)) if (1..=1024).contains(&n) && (1..=n).contains(&m) => Ok(()),
        Some(_) => Err(format!(
            "{value:?}: schedulers must be 1..=1024 and online schedulers 1..=schedulers"
        )),
        None => Err(format!("{value:?} is not of the form N:M (e.g. \"2:2\")")),
    }
}

/// Splits one `extraArgs` entry (`+flag` or `+flag value`) into flag and arguments, reading the
/// flag as Erlang 25 reads it ([`crate::erl_flags`]): an unknown flag, a missing or extra
/// value and a value the flag does not take are refused (each stops the VM or changes what it
/// runs), and so is a flag a typed field sets, in any spelling (`+sbwtnone`, `+P2048`), and a
/// value glued to its flag (one spelling per flag keeps precedence meaningful).
pub fn extra_arg(entry: &str) -> Result<(String, Vec<String>), String> {
    shell_safe(entry)?;
    let mut words = entry.split(' ');
    let word = words.next().unwrap_or_default();
    let args: Vec<String> = words.map(str::to_string).collect();
    // The rest of the word may hold a glued value (`+S4:4`), read below as Erlang reads it.
    let flag_ok = word.starts_with('+') && word[1..].starts_with(|c: char| c.is_ascii_alphabetic());
    if !flag_ok {
        return Err(format!(
            "{entry:?} must start with an emulator flag such as \"+stbt\" ('+' then a letter)"
        ));
    }
    if args.iter().any(|a| a.is_empty()) {
        return Err(format!("{entry:?}: separate words with exactly one space"));
    }
    if args.len() > 1 {
        return Err(format!(
            "{entry:?}: one flag per entry, with at most one value"
        ));
    }
    let (flag, glued) = match erl_flags::read(word) {
        erl_flags::Reading::Exact(flag) => (flag, None),
        erl_flags::Reading::Glued(flag, value) => (flag, Some(value)),
        erl_flags::Reading::Unknown => {
            return Err(format!(
                "{word} is not an emulator flag of Erlang 25 that extraArgs accepts; an unknown \
                 flag stops the VM"
            ))
        }
    };
    let name = format!("+{}", flag.name);
    if let Some(field) = flag.typed_field {
        let reading = match &glued {
            Some(value) => format!("Erlang reads {word:?} as \"{name} {value}\": "),
            None => String::new(),
        };
        return Err(format!(
            "{reading}{name} has a typed field: set spec.{field} instead"
        ));
    }
    if let Some(value) = glued {
        return Err(format!(
            "{entry:?}: Erlang reads this as \"{name} {value}\"; write the flag and its value \
             separated by a space"
        ));
    }
    flag.check(args.first().map(String::as_str))?;
    Ok((name, args))
}

/// What a policy key applies to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Applies {
    ClassicQueues,
    Queues,
    QuorumQueues,
    Exchanges,
    Any,
}

/// RabbitMQ policy keys kollacfg knows (RabbitMQ refuses a definitions file with an unknown key).
fn policy_key(key: &str) -> Option<Applies> {
    Some(match key {
        "ha-mode"
        | "ha-params"
        | "ha-sync-mode"
        | "ha-sync-batch-size"
        | "ha-promote-on-shutdown"
        | "ha-promote-on-failure"
        | "queue-mode"
        | "queue-master-locator"
        | "queue-version" => Applies::ClassicQueues,
        "delivery-limit"
        | "max-in-memory-length"
        | "max-in-memory-bytes"
        | "dead-letter-strategy"
        | "initial-cluster-size" => Applies::QuorumQueues,
        "message-ttl"
        | "expires"
        | "max-length"
        | "max-length-bytes"
        | "overflow"
        | "dead-letter-exchange"
        | "dead-letter-routing-key"
        | "queue-leader-locator"
        | "max-age"
        | "stream-max-segment-size-bytes"
        | "consumer-timeout" => Applies::Queues,
        "alternate-exchange" => Applies::Exchanges,
        "federation-upstream" | "federation-upstream-set" => Applies::Any,
        _ => return None,
    })
}

fn fits(applies: Applies, apply_to: &str) -> bool {
    match applies {
        Applies::Any => true,
        Applies::Exchanges => matches!(apply_to, "all" | "exchanges"),
        Applies::Queues => apply_to != "exchanges",
        Applies::ClassicQueues => matches!(apply_to, "all" | "queues" | "classic_queues"),
        Applies::QuorumQueues => matches!(apply_to, "all" | "queues" | "quorum_queues"),
    }
}

fn non_negative_int(v: &Value) -> Result<(), String> {
    match v.as_i64() {
        Some(n) if n >= 0 => Ok(()),
        _ => Err(format!("{v} must be a non-negative integer")),
    }
}

fn positive_int(v: &Value) -> Result<(), String> {
    match v.as_i64() {
        Some(n) if n >= 1 => Ok(()),
        _ => Err(format!("{v} must be an integer >= 1")),
    }
}

fn string_of(v: &Value, allowed: Option<&[&str]>) -> Result<(), String> {
    let s = v.as_str().ok_or_else(|| format!("{v} must be a string"))?;
    single_line(s)?;
    match allowed {
        Some(allowed) => one_of(s, allowed),
        None => Ok(()),
    }
}

/// Checks one policy definition: known keys, their types, that they fit `applyTo`, and the
/// version rule (`ha-*` is gone in RabbitMQ 4.0). Returns `(key, reason)` pairs.
pub fn policy_definition(
    definition: &serde_json::Map<String, Value>,
    apply_to: &str,
    version: Option<(u32, u32)>,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if definition.is_empty() {
        problems.push((
            String::new(),
            "a policy definition needs at least one key".into(),
        ));
    }
    let ha_mode = definition.get("ha-mode").and_then(Value::as_str);
    for (key, value) in definition {
        let Some(applies) = policy_key(key) else {
            problems.push((
                key.clone(),
                format!(
                    "unknown policy key {key:?} (RabbitMQ refuses definitions with unknown keys)"
                ),
            ));
            continue;
        };
        if key.starts_with("ha-") {
            if let Some((major, minor)) = version.filter(|(major, _)| *major >= 4) {
                problems.push((
                    key.clone(),
                    format!("classic queue mirroring (ha-*) was removed in RabbitMQ 4.0; the target runs {major}.{minor}: use quorum queues"),
                ));
                continue;
            }
        }
        if !fits(applies, apply_to) {
            problems.push((
                key.clone(),
                format!("{key:?} does not apply to applyTo: {apply_to}"),
            ));
            continue;
        }
        let checked = match key.as_str() {
            "ha-mode" => string_of(value, Some(&["all", "exactly", "nodes"])),
            "ha-params" => match ha_mode {
                Some("exactly") => positive_int(value),
                Some("nodes") => match value.as_array() {
                    Some(nodes) if !nodes.is_empty() => nodes
                        .iter()
                        .try_for_each(|n| string_of(n, None))
                        .map_err(|_| format!("{value} must be a list of node names")),
                    _ => Err(format!(
                        "{value} must be a non-empty list of node names for ha-mode nodes"
                    )),
                },
                Some(other) => Err(format!(
                    "ha-params is not used with ha-mode {other:?}; remove it"
                )),
                None => Err("ha-params needs ha-mode".into()),
            },
            "ha-sync-mode" => string_of(value, Some(&["manual", "automatic"])),
            "ha-promote-on-shutdown" | "ha-promote-on-failure" => {
                string_of(value, Some(&["always", "when-synced"]))
            }
            "overflow" => string_of(
                value,
                Some(&["drop-head", "reject-publish", "reject-publish-dlx"]),
            ),
            "queue-mode" => string_of(value, Some(&["default", "lazy"])),
            "dead-letter-strategy" => string_of(value, Some(&["at-most-once", "at-least-once"])),
            "queue-master-locator" | "queue-leader-locator" => string_of(
                value,
                Some(&["min-masters", "client-local", "random", "balanced"]),
            ),
            "ha-sync-batch-size" | "initial-cluster-size" | "queue-version" => positive_int(value),
            "message-ttl"
            | "expires"
            | "max-length"
            | "max-length-bytes"
            | "delivery-limit"
            | "max-in-memory-length"
            | "max-in-memory-bytes"
            | "stream-max-segment-size-bytes"
            | "consumer-timeout" => non_negative_int(value),
            _ => string_of(value, None),
        };
        if let Err(reason) = checked {
            problems.push((key.clone(), reason));
        }
    }
    if matches!(ha_mode, Some("exactly" | "nodes")) && !definition.contains_key("ha-params") {
        problems.push((
            "ha-params".into(),
            format!(
                "ha-params is required when ha-mode is {:?}",
                ha_mode.unwrap_or_default()
            ),
        ));
    }
    problems
}

fn describe_char(c: char) -> String {
    match c {
        '\n' => "a newline".into(),
        '\r' => "a carriage return".into(),
        '\0' => "a NUL byte".into(),
        c => format!("{c:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn simple_patterns() {
        for p in [
            "",
            ".*",
            "^(?!amq\\.).*",
            "^(?!(amq\\.)|(.*_fanout_)|(reply_)).*",
            "a+?b*c?",
            "\\d+-q\\.x|y$",
            "(?:a)(?=b)",
            "^(reply|q)_[0-9a-f]{32}-1$",
            "^q-1\\.[a-z0-9_-]+$",
            "^n_fanout_[0-9a-f]{32}(?<!-dlx)-7",
            "x{2,}y{1,3}?",
            "[^.]",
        ] {
            assert!(simple_pattern(p), "{p}");
            assert!(policy_pattern(p).is_ok(), "{p}");
        }
        for p in [
            "(",
            ")",
            "a**",
            "*a",
            "(?!a)*",
            "(?<n>a)",
            "\\",
            "\\q",
            "^*",
            "é",
            "[z-a]",
            "[]",
            "[a",
            "a{2",
            "a{3,2}",
            "a{1001}",
            "(?<!a+)",
            "(?<!a|bc)",
            "[[a]",
            "a{,2}",
            "(?:)?",
        ] {
            assert!(!simple_pattern(p), "{p}");
        }
        assert!(policy_pattern("(unclosed").is_err());
        assert!(policy_pattern("[a-z]+").is_ok());
        assert!(policy_pattern("q{2,3}").is_ok());
    }

    #[test]
    fn extra_args_are_read_as_erlang_reads_them() {
        let err = |e: &str| extra_arg(e).unwrap_err();
        assert!(err("+P2048").contains("Erlang reads \"+P2048\" as \"+P 2048\""));
        assert!(err("+P2048").contains("set spec.maxProcesses instead"));
        assert!(err("+S4:4").contains("set spec.schedulers instead"));
        assert!(err("+sbwt none").contains("set spec.schedulerBusyWait instead"));
        assert!(err("+stbtdb").contains("write the flag and its value separated"));
        assert!(err("+foo").contains("not an emulator flag of Erlang 25"));
        assert_eq!(
            extra_arg("+stbt db").unwrap(),
            ("+stbt".to_string(), vec!["db".to_string()])
        );
        assert_eq!(extra_arg("+d").unwrap(), ("+d".to_string(), vec![]));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// The fast path never accepts what the full engine refuses.
        #[test]
        fn simple_pattern_implies_it_compiles(p in "[a-c0-9.^$|()?:=!<*+,\\\\dw\\-\\[\\]{} ]{0,14}") {
            if simple_pattern(&p) {
                prop_assert!(fancy_regex::Regex::new(&p).is_ok(), "{:?} accepted but does not compile", p);
            }
        }
    }
}
