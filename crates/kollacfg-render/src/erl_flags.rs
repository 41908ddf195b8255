//! Erlang 25's emulator flags (ERTS 13, `erl(1)`) as the VM reads them: each flag's name, the
//! value it takes and, for an `ErlangVmArgs` field, which field sets it. A word such as
//! `+sbwtnone`, `+P2048` or `+S4:4` is split into flag and value exactly as `erlexec` and the
//! emulator's `erl_start` split it (the longest flag name that begins the word, the rest its
//! value), so no spelling escapes the typed fields or their ranges.
//!
//! The table holds the flags a RabbitMQ node may usefully set; a real flag left out (`+i`, which
//! replaces the boot module; `+V`, which prints the version and exits; `+sct`, whose topology
//! grammar is not checked here; `+dcg`, which `erlexec` does not pass on with a separate
//! value; `+IOp`/`+IOPp`, valid only with enough poll threads; `+hmax`, which kills processes
//! while the VM boots when small; `+B`, `+fn*`, `+v`, `+n`) is refused like an unknown one. Where
//! a range is narrower than Erlang's, it is because the VM does not boot (or boots uselessly)
//! outside it. Every entry is started with the real VM, written apart and glued, by the ignored
//! test `erlang_reads_every_flag_as_the_table_says` (crates/kollacfg/tests/fidelity_erlang.rs).
//! Pure data and parsing: no I/O.

/// The values a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagValue {
    /// The flag stands alone (`+d`).
    Nothing,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A decimal integer in `min..=max`, written without sign or leading zeros.
    Int(i64, i64),
    /// `N:M`, both decimal in `1..=max`, `M <= N` (schedulers and schedulers online).
    Pair(i64),
    /// `infinity`, or a decimal integer in `min..=max`.
    IntOrInfinity(i64, i64),
}

/// One emulator flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The name after `+`: `sbwt`, `MBas`.
    pub name: &'static str,
    /// What follows it.
    pub value: FlagValue,
    /// The `ErlangVmArgs` field that sets this flag, when one does.
    pub typed_field: Option<&'static str>,
}

const BOOL: FlagValue = FlagValue::OneOf(&["true", "false"]);
/// Scheduler busy-wait thresholds (`+sbwt`, `+sbwtdcpu`, `+sbwtdio`).
pub const BUSY_WAIT: &[&str] = &["none", "very_short", "short", "medium", "long", "very_long"];
const BIND: FlagValue =
    FlagValue::OneOf(&["u", "ns", "ts", "ps", "s", "nnts", "nnps", "tnnps", "db"]);
const WAKEUP: FlagValue = FlagValue::OneOf(&["very_low", "low", "medium", "high", "very_high"]);
const STACK: FlagValue = FlagValue::Int(20, 8192);
const PERCENT_PAIR: FlagValue = FlagValue::Pair(100);
const MAX_PROCS: i64 = 134_217_727;
const INT_MAX: i64 = 2_147_483_647;
const ALLOC_STRATEGY: FlagValue = FlagValue::OneOf(&[
    "bf",
    "aobf",
    "aoff",
    "aoffcbf",
    "aoffcaobf",
    "ageffcaoff",
    "ageffcbf",
    "ageffcaobf",
    "gf",
    "af",
]);

const fn flag(name: &'static str, value: FlagValue) -> Flag {
    Flag {
        name,
        value,
        typed_field: None,
    }
}

const fn typed(name: &'static str, value: FlagValue, field: &'static str) -> Flag {
    Flag {
        name,
        value,
        typed_field: Some(field),
    }
}

/// Allocator switches `+M<A><switch>` for the alloc_util allocators kollacfg accepts
/// (`u` all, `B` binary, `D` std, `E` ets, `H` eheap, `L` ll, `R` driver, `S` sl, `T` temp;
/// `acul` for all but `T`, which refuses it).
macro_rules! alloc_flags {
    ($($a:literal),*) => {
        [$([
            flag(concat!("M", $a, "as"), ALLOC_STRATEGY),
            flag(concat!("M", $a, "atags"), BOOL),
            flag(concat!("M", $a, "lmbcs"), FlagValue::Int(1, 1_048_576)),
            flag(concat!("M", $a, "smbcs"), FlagValue::Int(1, 1_048_576)),
            flag(concat!("M", $a, "mbcgs"), FlagValue::Int(1, 100)),
            flag(concat!("M", $a, "sbct"), FlagValue::Int(1, 1_048_576)),
        ]),*]
    };
}

const ALLOC: [[Flag; 6]; 9] = alloc_flags!("u", "B", "D", "E", "H", "L", "R", "S", "T");
const ACUL: [Flag; 8] = [
    flag("Muacul", FlagValue::Int(0, 100)),
    flag("MBacul", FlagValue::Int(0, 100)),
    flag("MDacul", FlagValue::Int(0, 100)),
    flag("MEacul", FlagValue::Int(0, 100)),
    flag("MHacul", FlagValue::Int(0, 100)),
    flag("MLacul", FlagValue::Int(0, 100)),
    flag("MRacul", FlagValue::Int(0, 100)),
    flag("MSacul", FlagValue::Int(0, 100)),
];

/// Flags Erlang reads only written apart: glued to its value (`+IOPt50`) the emulator does not
/// know the word.
const APART_ONLY: &[&str] = &["IOPt"];

/// Every flag but the allocator switches.
const FLAGS: &[Flag] = &[
    flag("a", FlagValue::Int(16, 8192)),
    typed("A", FlagValue::Int(1, 1024), "asyncThreads"),
    flag("c", BOOL),
    flag(
        "C",
        FlagValue::OneOf(&["no_time_warp", "single_time_warp", "multi_time_warp"]),
    ),
    flag("d", FlagValue::Nothing),
    flag("ec", FlagValue::Nothing),
    // A larger minimum heap is allocated for every process: 2^31 words cannot be.
    flag("hms", FlagValue::Int(1, 1_048_576)),
    flag("hmbs", FlagValue::Int(1, INT_MAX)),
    flag("hmaxel", BOOL),
    flag("hmaxk", BOOL),
    flag("hmqd", FlagValue::OneOf(&["off_heap", "on_heap"])),
    flag("hpds", FlagValue::Int(1, 65_536)),
    flag("IOt", FlagValue::Int(1, 1024)),
    flag("IOPt", FlagValue::Int(1, 100)),
    flag("L", FlagValue::Nothing),
    // Erlang 25 no longer starts with the old `r9c`, `r10b`, `r11b` configurations.
    flag("Mea", FlagValue::OneOf(&["min", "max", "config"])),
    flag("Mlpm", FlagValue::OneOf(&["all", "no"])),
    flag("MMmcs", FlagValue::Int(0, 1024)),
    flag("MMscs", FlagValue::Int(0, 1_048_576)),
    flag("MMsco", BOOL),
    flag("pc", FlagValue::OneOf(&["latin1", "unicode"])),
    typed("P", FlagValue::Int(1024, MAX_PROCS), "maxProcesses"),
    flag("Q", FlagValue::Int(1024, MAX_PROCS)),
    flag("r", FlagValue::Nothing),
    flag("rg", FlagValue::Int(1, 1024)),
    typed("S", FlagValue::Pair(1024), "schedulers"),
    flag("SP", PERCENT_PAIR),
    flag("SDcpu", FlagValue::Pair(1024)),
    flag("SDPcpu", PERCENT_PAIR),
    flag("SDio", FlagValue::Int(1, 1024)),
    flag("sbt", BIND),
    typed("sbwt", FlagValue::OneOf(BUSY_WAIT), "schedulerBusyWait"),
    typed(
        "sbwtdcpu",
        FlagValue::OneOf(BUSY_WAIT),
        "dirtyCpuSchedulerBusyWait",
    ),
    typed(
        "sbwtdio",
        FlagValue::OneOf(BUSY_WAIT),
        "dirtyIoSchedulerBusyWait",
    ),
    flag("scl", BOOL),
    flag("sfwi", FlagValue::Int(0, INT_MAX)),
    flag("spp", BOOL),
    flag("ssrct", FlagValue::Nothing),
    flag("sss", STACK),
    flag("sssdcpu", STACK),
    flag("sssdio", STACK),
    flag("stbt", BIND),
    typed("sub", BOOL, "schedulerUtilizationBalancing"),
    flag(
        "swct",
        FlagValue::OneOf(&["very_eager", "eager", "medium", "lazy", "very_lazy"]),
    ),
    flag("sws", FlagValue::OneOf(&["default", "legacy"])),
    flag("swt", WAKEUP),
    flag("swtdcpu", WAKEUP),
    flag("swtdio", WAKEUP),
    // Erlang takes 8192 and up, but a VM with fewer atoms than its default runs out while
    // it boots.
    flag("t", FlagValue::Int(1_048_576, INT_MAX)),
    flag("T", FlagValue::Int(0, 9)),
    flag("W", FlagValue::OneOf(&["w", "i", "e"])),
    typed(
        "zdbbl",
        FlagValue::Int(1, 2_097_151),
        "distBufferBusyLimitKb",
    ),
    flag("zdntgc", FlagValue::IntOrInfinity(0, 100_000_000)),
    flag("zosrl", FlagValue::Int(1, MAX_PROCS)),
];

/// Every flag of the table.
pub fn all() -> impl Iterator<Item = &'static Flag> {
    FLAGS
        .iter()
        .chain(ALLOC.iter().flatten())
        .chain(ACUL.iter())
}

/// The flag named exactly `name` (without `+`).
pub fn named(name: &str) -> Option<&'static Flag> {
    all().find(|f| f.name == name)
}

/// How the VM reads one word that starts with `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The word is the flag itself; its value, if it takes one, is the next word.
    Exact(&'static Flag),
    /// The word is a flag with its value glued on (`+sbwtnone` is `+sbwt none`).
    Glued(&'static Flag, String),
    /// No flag of the table begins the word.
    Unknown,
}

/// Reads `word` (`+` then letters and digits) as the VM does: the flag named exactly so, else
/// the longest flag name taking a value that begins the word, with the rest as its value.
pub fn read(word: &str) -> Reading {
    let Some(body) = word.strip_prefix('+') else {
        return Reading::Unknown;
    };
    if let Some(f) = named(body) {
        return Reading::Exact(f);
    }
    let glued = all()
        .filter(|f| f.value != FlagValue::Nothing && body.starts_with(f.name))
        .filter(|f| !APART_ONLY.contains(&f.name))
        .max_by_key(|f| f.name.len());
    match glued {
        Some(f) => Reading::Glued(f, body[f.name.len()..].to_string()),
        None => Reading::Unknown,
    }
}

fn decimal(text: &str, min: i64, max: i64) -> Result<(), String> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    match text.parse::<i64>() {
        Ok(n) if canonical && (min..=max).contains(&n) => Ok(()),
        _ => Err(format!(
            "{text:?} is not a decimal integer in {min}..={max}"
        )),
    }
}

impl Flag {
    /// Checks `value` against what this flag takes; the reason names the flag.
    pub fn check(&self, value: Option<&str>) -> Result<(), String> {
        let name = self.name;
        let value = match (self.value, value) {
            (FlagValue::Nothing, None) => return Ok(()),
            (FlagValue::Nothing, Some(v)) => {
                return Err(format!(
                    "+{name} takes no value (got {v:?}); Erlang would pass {v:?} on as a plain \
                     argument"
                ))
            }
            (_, None) => {
                return Err(format!(
                    "+{name} needs a value; without one the VM takes the next argument as its \
                     value or does not start"
                ))
            }
            (_, Some(v)) => v,
        };
        let checked = match self.value {
            FlagValue::Nothing => Ok(()),
            FlagValue::OneOf(allowed) if allowed.contains(&value) => Ok(()),
            FlagValue::OneOf(allowed) => {
                Err(format!("{value:?} is not one of {}", allowed.join(", ")))
            }
            FlagValue::Int(min, max) => decimal(value, min, max),
            FlagValue::IntOrInfinity(_, _) if value == "infinity" => Ok(()),
            FlagValue::IntOrInfinity(min, max) => {
                decimal(value, min, max).map_err(|e| format!("{e}, or \"infinity\""))
            }
            FlagValue::Pair(max) => match value.split_once(':') {
                Some((n, m)) => decimal(n, 1, max)
                    .and_then(|_| decimal(m, 1, max))
                    .and_then(|_| {
                        let (n, m) = (n.parse::<i64>().unwrap_or(0), m.parse::<i64>().unwrap_or(0));
                        if m <= n {
                            Ok(())
                        } else {
                            Err(format!("{value:?}: the second number exceeds the first"))
                        }
                    }),
                None => Err(format!(
                    "{value:?} is not of the form N:M with 1 <= M <= N <= {max}"
                )),
            },
        };
        checked.map_err(|e| format!("+{name}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glued_words_split_as_erlang_splits_them() {
        let glued = |w: &str| match read(w) {
            Reading::Glued(f, v) => (f.name, v),
            other => panic!("{w}: {other:?}"),
        };
        assert_eq!(glued("+sbwtnone"), ("sbwt", "none".into()));
        assert_eq!(glued("+sbwtdcpunone"), ("sbwtdcpu", "none".into()));
        assert_eq!(glued("+sbwtd"), ("sbwt", "d".into()));
        assert_eq!(glued("+P2048"), ("P", "2048".into()));
        assert_eq!(glued("+S4:4"), ("S", "4:4".into()));
        assert_eq!(glued("+SP50:50"), ("SP", "50:50".into()));
        assert_eq!(glued("+SDcpu2:1"), ("SDcpu", "2:1".into()));
        assert_eq!(glued("+stbtdb"), ("stbt", "db".into()));
        assert_eq!(glued("+MBasaobf"), ("MBas", "aobf".into()));
        assert_eq!(glued("+hmaxktrue"), ("hmaxk", "true".into()));
        assert_eq!(glued("+subtrue"), ("sub", "true".into()));
        assert!(matches!(read("+stbt"), Reading::Exact(f) if f.name == "stbt"));
        assert!(matches!(read("+d"), Reading::Exact(f) if f.name == "d"));
        assert_eq!(read("+V"), Reading::Unknown);
        assert_eq!(read("+dx"), Reading::Unknown);
        assert_eq!(read("+foo"), Reading::Unknown);
        assert_eq!(read("+IOPt50"), Reading::Unknown);
    }

    #[test]
    fn values_and_arity() {
        let f = |n: &str| named(n).unwrap();
        assert!(f("d").check(None).is_ok());
        assert!(f("d").check(Some("x")).is_err());
        assert!(f("stbt").check(None).is_err());
        assert!(f("stbt").check(Some("db")).is_ok());
        assert!(f("stbt").check(Some("dbx")).is_err());
        assert!(f("Q").check(Some("65536")).is_ok());
        assert!(f("Q").check(Some("1023")).is_err());
        assert!(f("Q").check(Some("01024")).is_err());
        assert!(f("SDcpu").check(Some("2:1")).is_ok());
        assert!(f("SDcpu").check(Some("1:2")).is_err());
        assert!(f("SDcpu").check(Some("2")).is_err());
        assert!(f("zdntgc").check(Some("infinity")).is_ok());
        assert!(f("zdntgc").check(Some("-1")).is_err());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = all().map(|f| f.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
