//! The JSON parser as it was before the tape ([`Value`] tree, one
//! allocation per string, key and container), kept verbatim as the
//! reference of the differential tests. Test builds only.

use crate::limits::{DuplicateKeys, Limits, JSON_DEPTH_CEILING};
use std::borrow::Cow;
use std::fmt;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number as written (never converted, so nothing is lost).
    Number(String),
    String(String),
    Array(Vec<Value>),
    /// Members in document order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// RFC 6901 lookup (`/messages/0/role`); `""` is the root.
    ///
    /// `~1` stands for `/` and `~0` for `~` in a reference token; an array
    /// index is `0` or a decimal without leading zeros (`-`, past the end, is
    /// never found). In an object with duplicate keys the first member wins,
    /// as with [`Value::get`].
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        let mut cur = self;
        for raw in rest.split('/') {
            let token = unescape_token(raw)?;
            cur = match cur {
                Value::Object(_) => cur.get(&token)?,
                Value::Array(items) => items.get(array_index(&token)?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// The first member named `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// Resolves `~1` and `~0` in one RFC 6901 reference token; `None` if a `~` is
/// followed by anything else (an invalid pointer finds nothing).
fn unescape_token(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('~') {
        return Some(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(Cow::Owned(out))
}

/// An RFC 6901 array index: `0`, or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    let b = token.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    token.parse().ok()
}

/// Appends one RFC 6901 reference token for `key` (`~` -> `~0`, `/` -> `~1`).
pub(crate) fn push_token(ptr: &mut String, key: &str) {
    ptr.push('/');
    if !key.contains(['~', '/']) {
        ptr.push_str(key);
        return;
    }
    for c in key.chars() {
        match c {
            '~' => ptr.push_str("~0"),
            '/' => ptr.push_str("~1"),
            c => ptr.push(c),
        }
    }
}

/// Appends an array index as a reference token (without the formatting
/// machinery: this runs for every array element walked).
pub(crate) fn push_index(ptr: &mut String, mut i: usize) {
    ptr.push('/');
    let mut digits = [0u8; 20];
    let mut n = digits.len();
    loop {
        n -= 1;
        if let Some(d) = digits.get_mut(n) {
            *d = b'0' + (i % 10) as u8;
        }
        i /= 10;
        if i == 0 || n == 0 {
            break;
        }
    }
    for &d in digits.get(n..).unwrap_or_default() {
        ptr.push(char::from(d));
    }
}

/// How strict the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Deepest nesting of arrays and objects accepted (`[]` is depth 1).
    /// Clamped to [`JSON_DEPTH_CEILING`].
    pub max_depth: usize,
    /// Reject duplicate keys, or keep every member.
    pub duplicate_keys: DuplicateKeys,
}

impl Options {
    /// The options the [`Limits`] ask for (depth clamped to the ceiling).
    pub fn from_limits(limits: &Limits) -> Self {
        Options {
            max_depth: limits.max_json_depth.min(JSON_DEPTH_CEILING),
            duplicate_keys: limits.duplicate_keys,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::from_limits(&Limits::default())
    }
}

/// Why a document was refused. Messages never quote the document, except a
/// duplicate key (truncated to 64 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not JSON. `line` and `column` are 1-based; the column counts characters.
    Syntax {
        offset: usize,
        line: usize,
        column: usize,
        message: Cow<'static, str>,
    },
    /// Not UTF-8 at this byte offset.
    InvalidUtf8 { offset: usize },
    /// Nesting deeper than `limit`; `pointer` is where the container too deep starts.
    TooDeep { pointer: String, limit: usize },
    /// `key` twice in the object at `pointer`.
    DuplicateKey { pointer: String, key: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Syntax {
                line,
                column,
                message,
                ..
            } => write!(f, "line {line}, column {column}: {message}"),
            Error::InvalidUtf8 { offset } => write!(f, "invalid UTF-8 at byte {offset}"),
            Error::TooDeep { pointer, limit } => {
                write!(f, "nesting deeper than {limit} levels at {pointer:?}")
            }
            Error::DuplicateKey { pointer, key } => {
                write!(f, "duplicate key {key:?} in the object at {pointer:?}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Parses one JSON document (RFC 8259: any value at the top, whitespace around it).
pub fn parse(input: &[u8], opts: &Options) -> Result<Value, Error> {
    let s = std::str::from_utf8(input).map_err(|e| Error::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    parse_str(s, opts, 0)
}

/// Parses a document already known to be UTF-8. `base_depth` containers
/// already enclose it (a JSON document inside a JSON string counts its depth
/// from the outer document).
pub(crate) fn parse_str(s: &str, opts: &Options, base_depth: usize) -> Result<Value, Error> {
    Parser {
        s,
        b: s.as_bytes(),
        pos: 0,
        opts: *opts,
        base_depth,
        max_depth: opts.max_depth.min(JSON_DEPTH_CEILING),
    }
    .document()
}

/// Objects up to this many members are checked for duplicates on each key; larger
/// ones are checked once, by sorting, when they close (no quadratic work).
const LINEAR_DUP_CHECK: usize = 16;

/// Longest key quoted in a [`Error::DuplicateKey`].
const MAX_KEY_CHARS: usize = 64;

enum Frame {
    Array(Vec<Value>),
    /// Members so far, and the key of the member whose value is being parsed.
    Object(Vec<(String, Value)>, String),
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    opts: Options,
    base_depth: usize,
    max_depth: usize,
}

impl<'a> Parser<'a> {
    fn document(&mut self) -> Result<Value, Error> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.skip_ws();
            let mut v = match self.peek() {
                Some(b'{') => {
                    self.enter(&stack)?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Object(Vec::new())
                    } else {
                        let key = self.key("expected a string key or '}'")?;
                        stack.push(Frame::Object(Vec::new(), key));
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.enter(&stack)?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue 'value;
                    }
                }
                Some(b'"') => Value::String(self.string()?),
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Null)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(self.err_here("expected a value")),
            };
            // A value is complete: hand it to its container, closing every
            // container that ends right after it.
            loop {
                let Some(top) = stack.last_mut() else {
                    self.skip_ws();
                    if self.pos < self.b.len() {
                        return Err(self.err_here("trailing characters after the document"));
                    }
                    return Ok(v);
                };
                match top {
                    Frame::Array(items) => {
                        items.push(v);
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                v = Value::Array(std::mem::take(items));
                                stack.pop();
                            }
                            _ => {
                                return Err(
                                    self.err_here("expected ',' or ']' after an array element")
                                )
                            }
                        }
                    }
                    Frame::Object(members, key) => {
                        members.push((std::mem::take(key), v));
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                let next = self.key("expected a string key after ','")?;
                                if let Some(dup) = self.duplicate_on_insert(members, &next) {
                                    return Err(self.duplicate(&stack, dup));
                                }
                                if let Some(Frame::Object(_, key)) = stack.last_mut() {
                                    *key = next;
                                }
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                let members = std::mem::take(members);
                                if let Some(dup) = self.duplicate_on_close(&members) {
                                    return Err(self.duplicate(&stack, dup));
                                }
                                v = Value::Object(members);
                                stack.pop();
                            }
                            _ => {
                                return Err(
                                    self.err_here("expected ',' or '}' after an object member")
                                )
                            }
                        }
                    }
                }
            }
        }
    }

    /// Checks the depth before opening a container under `stack`.
    fn enter(&self, stack: &[Frame]) -> Result<(), Error> {
        if self.base_depth + stack.len() < self.max_depth {
            return Ok(());
        }
        let mut pointer = String::new();
        for f in stack {
            push_frame(&mut pointer, f);
        }
        Err(Error::TooDeep {
            pointer,
            limit: self.max_depth,
        })
    }

    /// A small object: is `key` already a member?
    fn duplicate_on_insert(&self, members: &[(String, Value)], key: &str) -> Option<String> {
        if self.opts.duplicate_keys == DuplicateKeys::ScanAll || members.len() >= LINEAR_DUP_CHECK {
            return None;
        }
        members
            .iter()
            .any(|(k, _)| k == key)
            .then(|| key.to_owned())
    }

    /// A large object, complete: the duplicate whose second occurrence comes first.
    fn duplicate_on_close(&self, members: &[(String, Value)]) -> Option<String> {
        if self.opts.duplicate_keys == DuplicateKeys::ScanAll || members.len() <= LINEAR_DUP_CHECK {
            return None;
        }
        let mut keys: Vec<(&str, usize)> = members
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.as_str(), i))
            .collect();
        keys.sort_unstable();
        keys.windows(2)
            .filter_map(|w| match w {
                [(a, _), (b, j)] if a == b => Some((*j, *b)),
                _ => None,
            })
            .min()
            .map(|(_, k)| k.to_owned())
    }

    /// The error for a duplicate in the object on top of `stack`.
    fn duplicate(&self, stack: &[Frame], key: String) -> Error {
        let mut pointer = String::new();
        let enclosing = stack.len().saturating_sub(1);
        for f in stack.iter().take(enclosing) {
            push_frame(&mut pointer, f);
        }
        let key = match key.char_indices().nth(MAX_KEY_CHARS) {
            Some((cut, _)) => format!("{}...", key.get(..cut).unwrap_or_default()),
            None => key,
        };
        Error::DuplicateKey { pointer, key }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A member key and its `:`.
    fn key(&mut self, expected: &'static str) -> Result<String, Error> {
        if self.peek() != Some(b'"') {
            return Err(self.err_here(expected));
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.err_here("expected ':' after an object key"));
        }
        self.pos += 1;
        Ok(key)
    }

    fn literal(&mut self, word: &'static str, v: Value) -> Result<Value, Error> {
        let end = self.pos + word.len();
        if self.b.get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok(v)
        } else {
            Err(self.err_here("invalid literal: expected true, false or null"))
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as written.
    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.err_here("leading zeros are not allowed in a number"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err_here("invalid number: expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err_here("invalid number: expected a digit after '.'"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err_here("invalid number: expected a digit in the exponent"));
            }
            self.digits();
        }
        match self.s.get(start..self.pos) {
            Some(n) => Ok(Value::Number(n.to_owned())),
            None => Err(self.err_at(start, "invalid number")),
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// A string, `pos` on its opening quote. Runs without escapes are found
    /// eight bytes at a time and copied in one go; a string with escapes is
    /// first measured, so its buffer is allocated once.
    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1;
        let start = self.pos;
        self.pos = scan_plain(self.b, self.pos);
        match self.peek() {
            Some(b'"') => {
                let s = self.slice(start, self.pos)?.to_owned();
                self.pos += 1;
                return Ok(s);
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.err_here("control character in string")),
            None => return Err(self.err_here("unterminated string")),
        }
        // Room for the run so far and a little more; longer strings grow by doubling.
        let mut out = String::with_capacity(2 * self.pos.saturating_sub(start) + 32);
        out.push_str(self.slice(start, self.pos)?);
        loop {
            self.escape(&mut out)?;
            let run = self.pos;
            self.pos = scan_plain(self.b, self.pos);
            out.push_str(self.slice(run, self.pos)?);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {}
                Some(_) => return Err(self.err_here("control character in string")),
                None => return Err(self.err_here("unterminated string")),
            }
        }
    }

    fn slice(&self, from: usize, to: usize) -> Result<&'a str, Error> {
        self.s
            .get(from..to)
            .ok_or_else(|| self.err_at(from, "invalid string"))
    }

    /// One escape sequence, `pos` on its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), Error> {
        let at = self.pos;
        let c = match self.b.get(at + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(out),
            None => return Err(self.err_at(at, "unterminated string")),
            Some(_) => return Err(self.err_at(at, "invalid escape")),
        };
        out.push(c);
        self.pos = at + 2;
        Ok(())
    }

    /// `\uXXXX`, or a surrogate pair `\uD8xx\uDCxx`; a lone surrogate is an error.
    fn unicode_escape(&mut self, out: &mut String) -> Result<(), Error> {
        let at = self.pos;
        let hi = self.hex4(at + 2)?;
        let cp = match hi {
            0xD800..=0xDBFF => {
                let lo = if self.b.get(at + 6..at + 8) == Some(b"\\u") {
                    Some(self.hex4(at + 8)?)
                } else {
                    None
                };
                match lo {
                    Some(lo @ 0xDC00..=0xDFFF) => {
                        self.pos = at + 12;
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    _ => return Err(self.err_at(at, format!("lone surrogate \\u{hi:04x}"))),
                }
            }
            0xDC00..=0xDFFF => return Err(self.err_at(at, format!("lone surrogate \\u{hi:04x}"))),
            _ => {
                self.pos = at + 6;
                hi
            }
        };
        match char::from_u32(cp) {
            Some(c) => {
                out.push(c);
                Ok(())
            }
            None => Err(self.err_at(at, "invalid escape")),
        }
    }

    fn hex4(&self, at: usize) -> Result<u32, Error> {
        let mut v = 0u32;
        for i in at..at + 4 {
            let d = match self.b.get(i) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => {
                    return Err(self.err_at(
                        at.saturating_sub(2),
                        "invalid escape: \\u needs four hex digits",
                    ))
                }
            };
            v = v << 4 | u32::from(d);
        }
        Ok(v)
    }

    fn err_here(&self, message: &'static str) -> Error {
        if self.pos >= self.b.len() {
            let message = format!("unexpected end of input, {message}");
            return self.err_at(self.pos, message);
        }
        self.err_at(self.pos, message)
    }

    fn err_at(&self, offset: usize, message: impl Into<Cow<'static, str>>) -> Error {
        let (line, column) = line_column(self.b, offset);
        Error::Syntax {
            offset,
            line,
            column,
            message: message.into(),
        }
    }
}

/// The pointer token a frame contributes for the value being parsed in it.
fn push_frame(ptr: &mut String, f: &Frame) {
    match f {
        Frame::Array(items) => push_index(ptr, items.len()),
        Frame::Object(_, key) => push_token(ptr, key),
    }
}

/// 1-based line and column (in characters) of a byte offset. Only computed
/// for an error, so the hot path never counts lines.
fn line_column(b: &[u8], offset: usize) -> (usize, usize) {
    let head = b.get(..offset).unwrap_or(b);
    let line_start = head.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
    let line = 1 + head.iter().filter(|&&c| c == b'\n').count();
    let line_bytes = head.get(line_start..).unwrap_or_default();
    let column = 1 + line_bytes.iter().filter(|&&c| (c & 0xC0) != 0x80).count();
    (line, column)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The offset of the first `"`, `\` or control character at or after `i`
/// (or the end). Eight bytes a step: in each word, the lowest byte flagged by
/// the bit tricks below is exactly the first such byte (a borrow can only
/// flag bytes *above* a true match), so its index is the count of trailing
/// zero bits divided by eight.
#[inline]
fn scan_plain(b: &[u8], i: usize) -> usize {
    let Some(rest) = b.get(i..) else {
        return b.len();
    };
    let mut chunks = rest.chunks_exact(8);
    let mut at = i;
    for chunk in &mut chunks {
        let Ok(arr) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(arr);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        let hits = has_zero(quote) | has_zero(backslash) | below_space;
        if hits != 0 {
            return at + (hits.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    for &c in chunks.remainder() {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return at;
        }
        at += 1;
    }
    at
}
