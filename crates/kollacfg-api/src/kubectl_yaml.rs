//! Reads a YAML stream the way kubectl would disagree with us: duplicate keys in a mapping (the
//! API server refuses them; serde would keep the last), and plain scalars that kubectl's YAML
//! 1.1 rules (sigs.k8s.io/yaml on go-yaml v2) read as something else than the YAML 1.2 reading
//! used here: `yes`/`no`/`on`/`off`/`y`/`n` booleans, `0`-prefixed octal, `1_000`, sexagesimal
//! `12:30:00`. Scans events only (with positions); the values come from the caller's parse.

use std::collections::HashMap;

use serde_json::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A key given twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Path of the mapping's key, e.g. `spec.ini.DEFAULT.debug`.
    pub path: String,
    /// 1-based line of the first occurrence.
    pub first: usize,
    /// 1-based line of the second.
    pub second: usize,
}

/// A plain (unquoted) scalar value, where it is and how it is spelt.
#[derive(Debug, Clone)]
pub struct Plain {
    /// Path segments from the document root.
    pub path: Vec<Segment>,
    /// 1-based line.
    pub line: usize,
    /// The scalar as written.
    pub text: String,
}

/// A step in a path.
#[derive(Debug, Clone)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// What one document holds of interest.
#[derive(Debug, Default)]
pub struct DocumentScan {
    /// Duplicate keys.
    pub duplicates: Vec<Duplicate>,
    /// Every plain scalar value.
    pub plains: Vec<Plain>,
}

/// Dotted form of a path (`spec.extraArgs[2]`).
pub fn dotted(path: &[Segment]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

enum Frame {
    Mapping {
        keys: HashMap<String, usize>,
        key: Option<String>,
    },
    Sequence {
        index: usize,
    },
}

#[derive(Default)]
struct Scanner {
    documents: Vec<DocumentScan>,
    stack: Vec<Frame>,
    path: Vec<Segment>,
}

impl Scanner {
    /// Before a value (scalar, mapping, sequence) in the current frame: its path segment
    /// (`None` at the document root).
    fn value_segment(&mut self) -> Option<Segment> {
        match self.stack.last_mut() {
            Some(Frame::Mapping { key: Some(k), .. }) => Some(Segment::Key(k.clone())),
            Some(Frame::Sequence { index }) => Some(Segment::Index(*index)),
            _ => None,
        }
    }

    /// After a value: the frame moves on to the next key or index.
    fn value_done(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Mapping { key, .. }) => *key = None,
            Some(Frame::Sequence { index }) => *index += 1,
            None => {}
        }
    }

    fn start(&mut self, frame: Frame, mark: Marker) {
        // A collection as a mapping key: not something kollacfg reads; give it a name.
        if let Some(Frame::Mapping {
            key: key @ None, ..
        }) = self.stack.last_mut()
        {
            *key = Some(format!("<key at line {}>", mark.line()));
        }
        if let Some(seg) = self.value_segment() {
            self.path.push(seg);
        }
        self.stack.push(frame);
    }

    fn end(&mut self) {
        self.stack.pop();
        if !self.stack.is_empty() {
            self.path.pop();
        }
        self.value_done();
    }
}

impl MarkedEventReceiver for Scanner {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::DocumentStart => {
                self.documents.push(DocumentScan::default());
                self.stack.clear();
                self.path.clear();
            }
            Event::MappingStart(..) => self.start(
                Frame::Mapping {
                    keys: HashMap::new(),
                    key: None,
                },
                mark,
            ),
            Event::SequenceStart(..) => self.start(Frame::Sequence { index: 0 }, mark),
            Event::MappingEnd | Event::SequenceEnd => self.end(),
            Event::Scalar(text, style, ..) => {
                if let Some(Frame::Mapping {
                    keys,
                    key: key @ None,
                }) = self.stack.last_mut()
                {
                    if let Some(first) = keys.get(&text) {
                        let mut path = self.path.clone();
                        path.push(Segment::Key(text.clone()));
                        if let Some(doc) = self.documents.last_mut() {
                            doc.duplicates.push(Duplicate {
                                path: dotted(&path),
                                first: *first,
                                second: line,
                            });
                        }
                    } else {
                        keys.insert(text.clone(), line);
                    }
                    *key = Some(text);
                    return;
                }
                if style == TScalarStyle::Plain {
                    let mut path = self.path.clone();
                    path.extend(self.value_segment());
                    if let Some(doc) = self.documents.last_mut() {
                        doc.plains.push(Plain { path, line, text });
                    }
                }
                self.value_done();
            }
            Event::Alias(_) => self.value_done(),
            _ => {}
        }
    }
}

/// Scans every document of `text`; `None` when the event parser fails (the caller's own parse
/// reports the syntax error).
pub fn scan(text: &str) -> Option<Vec<DocumentScan>> {
    let mut scanner = Scanner::default();
    Parser::new_from_str(text).load(&mut scanner, true).ok()?;
    Some(scanner.documents)
}

/// How kubectl's YAML 1.1 rules read a plain scalar, when that is not a string.
pub fn yaml11(text: &str) -> Option<Value> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Some(Value::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Some(Value::Bool(false))
        }
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        _ => {}
    }
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let sign = |n: i64| if negative { -n } else { n };
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let int = |s: &str, radix| {
        i64::from_str_radix(s, radix)
            .ok()
            .map(|n| Value::from(sign(n)))
    };
    if let Some(bin) = clean.strip_prefix("0b") {
        return int(bin, 2);
    }
    if let Some(hex) = clean.strip_prefix("0x") {
        return int(hex, 16);
    }
    if clean.len() > 1 && clean.starts_with('0') && clean.bytes().all(|b| b.is_ascii_digit()) {
        return int(&clean[1..], 8);
    }
    if clean.bytes().all(|b| b.is_ascii_digit()) {
        return int(&clean, 10);
    }
    if clean.contains(':') {
        // Sexagesimal: 12:30:00 is 45000.
        let mut total: i64 = 0;
        for (i, part) in clean.split(':').enumerate() {
            let ok = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (i == 0 || part.len() <= 2);
            let n: i64 = part.parse().ok().filter(|_| ok)?;
            if i > 0 && n > 59 {
                return None;
            }
            total = total.checked_mul(60)?.checked_add(n)?;
        }
        return Some(Value::from(sign(total)));
    }
    let float_like = clean
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if float_like && clean.contains('.') {
        let f: f64 = clean.parse().ok()?;
        return Some(Value::from(if negative { -f } else { f }));
    }
    None
}

/// Whether what was parsed (`got`) is what YAML 1.1 reads (`want`).
pub fn same_reading(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => got == want,
    }
}

/// The value at `path` in `value`.
pub fn at<'a>(value: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Segment::Key(k) => v.get(k.as_str()),
        Segment::Index(i) => v.get(*i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_readings() {
        assert_eq!(yaml11("off"), Some(Value::Bool(false)));
        assert_eq!(yaml11("y"), Some(Value::Bool(true)));
        assert_eq!(yaml11("010"), Some(Value::from(8)));
        assert_eq!(yaml11("1_000"), Some(Value::from(1000)));
        assert_eq!(yaml11("12:30:00"), Some(Value::from(45000)));
        assert_eq!(yaml11("0x1F"), Some(Value::from(31)));
        assert_eq!(yaml11("-1.5"), Some(Value::from(-1.5)));
        // `+S 2:2` unquoted is sexagesimal to kubectl.
        assert_eq!(yaml11("2:2"), Some(Value::from(122)));
        for s in [
            "rabbitmq",
            "1.2.3",
            "+sbwt",
            "ha-all",
            "10.0.0.1:5672",
            "3.13",
        ] {
            assert!(
                yaml11(s).is_none() || s == "3.13",
                "{s} read as {:?}",
                yaml11(s)
            );
        }
    }

    #[test]
    fn duplicates_name_both_lines() {
        let docs = scan("a: 1\nb:\n  c: 1\n  c: 2\n---\nkind: x\nkind: y\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0].duplicates,
            [Duplicate {
                path: "b.c".into(),
                first: 3,
                second: 4
            }]
        );
        assert_eq!(docs[1].duplicates[0].path, "kind");
        assert_eq!(
            (docs[1].duplicates[0].first, docs[1].duplicates[0].second),
            (6, 7)
        );
    }

    /// `kollacfg crds` is applied with kubectl: every plain scalar must read the same there.
    #[test]
    fn the_crds_read_the_same_under_yaml_1_1() {
        use serde::Deserialize;
        let text = crate::crds_yaml();
        let scans = scan(&text).unwrap();
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|d| Value::deserialize(d).unwrap())
            .collect();
        assert_eq!(docs.len(), scans.len());
        for (value, scan) in docs.iter().zip(&scans) {
            assert!(scan.duplicates.is_empty());
            for p in &scan.plains {
                if let Some(want) = yaml11(&p.text) {
                    let got = at(value, &p.path).unwrap();
                    assert!(same_reading(got, &want), "line {}: {}", p.line, p.text);
                }
            }
        }
    }
}
