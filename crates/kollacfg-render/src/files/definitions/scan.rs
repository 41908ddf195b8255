//! Byte spans in JSON text that serde_json has already accepted: the members of the top-level
//! object and the elements of an array. Only delimits; never decodes a value (keys aside) and
//! never changes text.

use std::ops::Range;

/// One member of the top-level object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Member {
    /// The decoded key.
    pub key: String,
    /// Offset of the key's opening quote.
    pub key_start: usize,
    /// The value's text.
    pub value: Range<usize>,
}

/// The top-level object: where its braces are and its members in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TopObject {
    /// Offset of the opening `{`.
    pub open: usize,
    /// Offset of the closing `}`.
    pub close: usize,
    /// The members, in text order.
    pub members: Vec<Member>,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Consumes `c` (after whitespace) or fails.
    fn expect(&mut self, c: u8) -> Option<usize> {
        self.skip_ws();
        (self.peek()? == c).then(|| {
            self.pos += 1;
            self.pos - 1
        })
    }

    /// Skips a string starting at its opening quote; a backslash always escapes the next byte.
    fn string(&mut self) -> Option<Range<usize>> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek()? {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return Some(start..self.pos);
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Skips one value (after whitespace); brackets inside strings do not count.
    fn value(&mut self) -> Option<Range<usize>> {
        self.skip_ws();
        let start = self.pos;
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.pos += 1;
                }
            }
        }
        (self.pos > start).then_some(start..self.pos)
    }
}

/// The top-level object of `text`, or `None` when the top level is not an object.
pub(super) fn top_object(text: &str) -> Option<TopObject> {
    let mut cur = Cursor {
        b: text.as_bytes(),
        pos: 0,
    };
    let open = cur.expect(b'{')?;
    let mut members = Vec::new();
    cur.skip_ws();
    if cur.peek()? == b'}' {
        return Some(TopObject {
            open,
            close: cur.pos,
            members,
        });
    }
    loop {
        cur.skip_ws();
        if cur.peek()? != b'"' {
            return None;
        }
        let key_span = cur.string()?;
        let key = serde_json::from_str::<String>(&text[key_span.clone()]).ok()?;
        cur.expect(b':')?;
        let value = cur.value()?;
        members.push(Member {
            key,
            key_start: key_span.start,
            value,
        });
        cur.skip_ws();
        match cur.peek()? {
            b',' => cur.pos += 1,
            b'}' => {
                return Some(TopObject {
                    open,
                    close: cur.pos,
                    members,
                })
            }
            _ => return None,
        }
    }
}

/// The spans of the elements of the array at `array` (which starts with `[`).
pub(super) fn array_elements(text: &str, array: Range<usize>) -> Option<Vec<Range<usize>>> {
    let mut cur = Cursor {
        b: &text.as_bytes()[..array.end],
        pos: array.start,
    };
    cur.expect(b'[')?;
    let mut elements = Vec::new();
    cur.skip_ws();
    if cur.peek()? == b']' {
        return Some(elements);
    }
    loop {
        elements.push(cur.value()?);
        cur.skip_ws();
        match cur.peek()? {
            b',' => cur.pos += 1,
            b']' => return Some(elements),
            _ => return None,
        }
    }
}
