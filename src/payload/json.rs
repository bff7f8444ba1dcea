//! A strict RFC 8259 JSON parser and document model of our own.
//!
//! Why not `serde_json::Value`: the firewall must read exactly what *any*
//! model server could read. So object members stay in document order with
//! duplicates detectable (a server that keeps the last value must not be able
//! to read a text the firewall never saw), numbers are kept as written, and
//! every error says where it is (line, column, or a JSON pointer) without
//! quoting the request.
//!
//! Input: bytes. Output: a [`Document`] or an [`Error`]. The document is a
//! tape: one flat array of nodes in document order (a container is followed
//! by its elements, each object member by its key then its value), and one
//! string, the text parsed followed by the strings that had escapes,
//! unescaped. A string without escapes is a range of the text as sent. So a
//! document costs a few allocations, not one per string, key and container
//! (this parser runs on every request; the allocator was a fifth of a
//! request's cycles). Read it through [`ValueRef`].
//!
//! Invariants: the parser is iterative (an explicit stack, no recursion), so
//! no input can overflow the stack; nesting is bounded by
//! [`Options::max_depth`] (never above [`JSON_DEPTH_CEILING`]); it never
//! panics; strings are scanned eight bytes at a time and unescaped runs are
//! copied in bulk.

use crate::limits::{DuplicateKeys, Limits, JSON_DEPTH_CEILING};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

/// What a tape node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Null,
    True,
    False,
    Number,
    String,
    Array,
    Object,
}

/// One node of the tape. A string or a number (as written): the text
/// `a..a + b` of [`Document::src`]. An array or an object: `a` elements or
/// members, and `b` the index of the first node after its last descendant.
#[derive(Debug, Clone, Copy)]
struct Node {
    tag: Tag,
    a: usize,
    b: usize,
}

/// A parsed JSON document (see the module docs). The root is node 0.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// The text parsed, then the unescaped strings.
    src: String,
    nodes: Vec<Node>,
    /// String values (not keys), a hint for how many segments it holds.
    strings: usize,
}

impl Document {
    /// The top-level value.
    pub fn root(&self) -> ValueRef<'_> {
        ValueRef { doc: self, i: 0 }
    }

    /// The first member named `key` of the top-level object.
    pub fn get(&self, key: &str) -> Option<ValueRef<'_>> {
        self.root().get(key)
    }

    /// RFC 6901 lookup from the root (see [`ValueRef::pointer`]).
    pub fn pointer(&self, pointer: &str) -> Option<ValueRef<'_>> {
        self.root().pointer(pointer)
    }

    /// Number of string values in the document (keys not counted).
    pub(crate) fn string_count(&self) -> usize {
        self.strings
    }

    /// An empty array whose elements [`Document::push_element`] appends
    /// (JSON Lines: one element per line), over `text`.
    pub(crate) fn array_over(text: &str) -> Document {
        let mut doc = Document::with_text(text);
        doc.nodes.push(Node {
            tag: Tag::Array,
            a: 0,
            b: 1,
        });
        doc
    }

    /// Parses `s`, the text at `base` in the text of [`Document::array_over`],
    /// as one document and appends it as an element of the root array.
    pub(crate) fn push_element(
        &mut self,
        s: &str,
        base: usize,
        opts: &Options,
    ) -> Result<(), Error> {
        parse_into(self, s, base, opts, 0)?;
        let end = self.nodes.len();
        if let Some(root) = self.nodes.first_mut() {
            root.a += 1;
            root.b = end;
        }
        Ok(())
    }

    fn with_text(text: &str) -> Document {
        // A node per 24 bytes of text is more than chat bodies need (their
        // strings are longer); the rare denser document grows the tape.
        let mut src = String::with_capacity(text.len() + 32);
        src.push_str(text);
        Document {
            src,
            nodes: Vec::with_capacity(text.len() / 24 + 8),
            strings: 0,
        }
    }

    fn node(&self, i: usize) -> Option<&Node> {
        self.nodes.get(i)
    }

    /// The index of the first node after node `i` and its descendants.
    fn end(&self, i: usize) -> usize {
        match self.nodes.get(i) {
            Some(Node {
                tag: Tag::Array | Tag::Object,
                b,
                ..
            }) => *b,
            _ => i + 1,
        }
    }

    /// The text `a..a + b` of the source.
    fn text(&self, a: usize, b: usize) -> &str {
        self.src.get(a..a.saturating_add(b)).unwrap_or_default()
    }

    /// The members of the object at `node`, given their number.
    fn members_of(&self, node: usize, count: usize) -> Members<'_> {
        Members {
            doc: self,
            next: node + 1,
            left: count,
        }
    }

    /// The document as a [`Value`](super::reference::json::Value) tree, to
    /// compare with the reference parser.
    #[cfg(test)]
    pub(crate) fn to_value(&self) -> super::reference::json::Value {
        self.root().to_value()
    }
}

/// One value of a [`Document`]: a cheap copyable handle.
#[derive(Clone, Copy)]
pub struct ValueRef<'d> {
    doc: &'d Document,
    i: usize,
}

impl fmt::Debug for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValueRef({}, {:?})", self.i, self.node().map(|n| n.tag))
    }
}

impl<'d> ValueRef<'d> {
    fn node(self) -> Option<&'d Node> {
        self.doc.node(self.i)
    }

    fn tag(self) -> Option<Tag> {
        self.node().map(|n| n.tag)
    }

    /// Whether this is an object.
    pub fn is_object(self) -> bool {
        self.tag() == Some(Tag::Object)
    }

    /// Whether this is an array.
    pub fn is_array(self) -> bool {
        self.tag() == Some(Tag::Array)
    }

    /// Whether this is a string.
    pub fn is_string(self) -> bool {
        self.tag() == Some(Tag::String)
    }

    /// The string, if this is one.
    pub fn as_str(self) -> Option<&'d str> {
        match self.node() {
            Some(&Node {
                tag: Tag::String,
                a,
                b,
            }) => Some(self.doc.text(a, b)),
            _ => None,
        }
    }

    /// The number of elements of an array, members of an object; 0 otherwise.
    pub fn count(self) -> usize {
        match self.node() {
            Some(&Node {
                tag: Tag::Array | Tag::Object,
                a,
                ..
            }) => a,
            _ => 0,
        }
    }

    /// The elements of an array (none if this is not one).
    pub fn items(self) -> Items<'d> {
        let left = match self.node() {
            Some(&Node {
                tag: Tag::Array, a, ..
            }) => a,
            _ => 0,
        };
        Items {
            doc: self.doc,
            next: self.i + 1,
            left,
        }
    }

    /// The members of an object in document order, duplicates included
    /// (none if this is not one).
    pub fn members(self) -> Members<'d> {
        let count = match self.node() {
            Some(&Node {
                tag: Tag::Object,
                a,
                ..
            }) => a,
            _ => 0,
        };
        self.doc.members_of(self.i, count)
    }

    /// What this value is, its node read once (the walk's dispatch).
    pub(crate) fn shape(self) -> Shape<'d> {
        match self.node() {
            Some(&Node {
                tag: Tag::String,
                a,
                b,
            }) => Shape::Str(self.doc.text(a, b)),
            Some(Node {
                tag: Tag::Array, ..
            }) => Shape::Array,
            Some(Node {
                tag: Tag::Object, ..
            }) => Shape::Object,
            _ => Shape::Scalar,
        }
    }

    /// The first member named `key` of an object.
    pub fn get(self, key: &str) -> Option<ValueRef<'d>> {
        self.members().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// RFC 6901 lookup (`/messages/0/role`); `""` is this value.
    ///
    /// `~1` stands for `/` and `~0` for `~` in a reference token; an array
    /// index is `0` or a decimal without leading zeros (`-`, past the end, is
    /// never found). In an object with duplicate keys the first member wins,
    /// as with [`ValueRef::get`].
    pub fn pointer(self, pointer: &str) -> Option<ValueRef<'d>> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        let mut cur = self;
        for raw in rest.split('/') {
            let token = unescape_token(raw)?;
            cur = match cur.tag() {
                Some(Tag::Object) => cur.get(&token)?,
                Some(Tag::Array) => cur.items().nth(array_index(&token)?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    #[cfg(test)]
    fn to_value(self) -> super::reference::json::Value {
        use super::reference::json::Value;
        match self.node() {
            None | Some(Node { tag: Tag::Null, .. }) => Value::Null,
            Some(Node { tag: Tag::True, .. }) => Value::Bool(true),
            Some(Node {
                tag: Tag::False, ..
            }) => Value::Bool(false),
            Some(&Node {
                tag: Tag::Number,
                a,
                b,
            }) => Value::Number(self.doc.text(a, b).to_owned()),
            Some(&Node {
                tag: Tag::String,
                a,
                b,
            }) => Value::String(self.doc.text(a, b).to_owned()),
            Some(Node {
                tag: Tag::Array, ..
            }) => Value::Array(self.items().map(ValueRef::to_value).collect()),
            Some(Node {
                tag: Tag::Object, ..
            }) => Value::Object(
                self.members()
                    .map(|(k, v)| (k.to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// What a [`ValueRef`] is, for a dispatch that reads its node once.
pub(crate) enum Shape<'d> {
    Str(&'d str),
    Array,
    Object,
    /// Null, a boolean or a number.
    Scalar,
}

/// The elements of an array, in order.
#[derive(Clone)]
pub struct Items<'d> {
    doc: &'d Document,
    next: usize,
    left: usize,
}

impl<'d> Iterator for Items<'d> {
    type Item = ValueRef<'d>;

    fn next(&mut self) -> Option<ValueRef<'d>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let v = ValueRef {
            doc: self.doc,
            i: self.next,
        };
        self.next = self.doc.end(self.next);
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// The members of an object, in document order: each key and its value.
#[derive(Clone)]
pub struct Members<'d> {
    doc: &'d Document,
    next: usize,
    left: usize,
}

impl<'d> Iterator for Members<'d> {
    type Item = (&'d str, ValueRef<'d>);

    fn next(&mut self) -> Option<(&'d str, ValueRef<'d>)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let key = ValueRef {
            doc: self.doc,
            i: self.next,
        };
        let v = ValueRef {
            doc: self.doc,
            i: self.next + 1,
        };
        self.next = self.doc.end(self.next + 1);
        Some((key.as_str().unwrap_or_default(), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
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
    // Bytes, not a char pattern: this runs for every member walked.
    if !key.bytes().any(|b| b == b'~' || b == b'/') {
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
    if i < 10 {
        ptr.push(char::from(b'0' + i as u8));
        return;
    }
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
pub fn parse(input: &[u8], opts: &Options) -> Result<Document, Error> {
    let s = std::str::from_utf8(input).map_err(|e| Error::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    parse_str(s, opts, 0)
}

/// Parses a document already known to be UTF-8. `base_depth` containers
/// already enclose it (a JSON document inside a JSON string counts its depth
/// from the outer document).
pub(crate) fn parse_str(s: &str, opts: &Options, base_depth: usize) -> Result<Document, Error> {
    let mut doc = Document::with_text(s);
    parse_into(&mut doc, s, 0, opts, base_depth)?;
    Ok(doc)
}

thread_local! {
    /// The parser's stack of open containers, kept between documents (at
    /// most [`JSON_DEPTH_CEILING`] frames, so never large).
    static STACK: Cell<Vec<Frame>> = const { Cell::new(Vec::new()) };
}

/// Appends the document `s` to the tape of `doc`; `s` is the text at
/// `base` in `doc.src`.
fn parse_into(
    doc: &mut Document,
    s: &str,
    base: usize,
    opts: &Options,
    base_depth: usize,
) -> Result<(), Error> {
    let mut stack = STACK.with(Cell::take);
    stack.clear();
    let r = Parser {
        s,
        b: s.as_bytes(),
        pos: 0,
        base,
        doc,
        opts: *opts,
        base_depth,
        max_depth: opts.max_depth.min(JSON_DEPTH_CEILING),
    }
    .document(&mut stack);
    stack.clear();
    STACK.with(|c| c.set(stack));
    r
}

/// Objects up to this many members are checked for duplicates on each key; larger
/// ones are checked once, by sorting, when they close (no quadratic work).
const LINEAR_DUP_CHECK: usize = 16;

/// Longest key quoted in a [`Error::DuplicateKey`].
const MAX_KEY_CHARS: usize = 64;

/// An open container: its node, the elements or members completed so far,
/// and for an object the key (a range of the source) of the member whose
/// value is being parsed.
#[derive(Debug, Clone, Copy)]
struct Frame {
    node: usize,
    count: usize,
    object: bool,
    key: (usize, usize),
}

struct Parser<'a, 'd> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Where `s` starts in `doc.src`.
    base: usize,
    doc: &'d mut Document,
    opts: Options,
    base_depth: usize,
    max_depth: usize,
}

impl<'a> Parser<'a, '_> {
    fn document(&mut self, stack: &mut Vec<Frame>) -> Result<(), Error> {
        'value: loop {
            self.skip_ws();
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.enter(stack)?;
                    self.pos += 1;
                    self.skip_ws();
                    let (tag, close) = if open == b'{' {
                        (Tag::Object, b'}')
                    } else {
                        (Tag::Array, b']')
                    };
                    let node = self.push(tag, 0, 0);
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        self.close(node, 0);
                    } else {
                        let key = if tag == Tag::Object {
                            self.key("expected a string key or '}'")?
                        } else {
                            (0, 0)
                        };
                        stack.push(Frame {
                            node,
                            count: 0,
                            object: tag == Tag::Object,
                            key,
                        });
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    let (a, b) = self.string()?;
                    self.push(Tag::String, a, b);
                    self.doc.strings += 1;
                }
                Some(b't') => self.literal("true", Tag::True)?,
                Some(b'f') => self.literal("false", Tag::False)?,
                Some(b'n') => self.literal("null", Tag::Null)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(self.err_here("expected a value")),
            }
            // A value is complete: count it in its container, closing every
            // container that ends right after it.
            loop {
                let Some(top) = stack.last_mut() else {
                    self.skip_ws();
                    if self.pos < self.b.len() {
                        return Err(self.err_here("trailing characters after the document"));
                    }
                    return Ok(());
                };
                top.count += 1;
                let Frame {
                    node,
                    count,
                    object,
                    ..
                } = *top;
                self.skip_ws();
                if !object {
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            continue 'value;
                        }
                        Some(b']') => {
                            self.pos += 1;
                            self.close(node, count);
                            stack.pop();
                        }
                        _ => {
                            return Err(self.err_here("expected ',' or ']' after an array element"))
                        }
                    }
                    continue;
                }
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                        let next = self.key("expected a string key after ','")?;
                        if let Some(dup) = self.duplicate_on_insert(node, count, next) {
                            return Err(self.duplicate(stack, dup));
                        }
                        if let Some(top) = stack.last_mut() {
                            top.key = next;
                        }
                        continue 'value;
                    }
                    Some(b'}') => {
                        self.pos += 1;
                        self.close(node, count);
                        if let Some(dup) = self.duplicate_on_close(node, count) {
                            return Err(self.duplicate(stack, dup));
                        }
                        stack.pop();
                    }
                    _ => return Err(self.err_here("expected ',' or '}' after an object member")),
                }
            }
        }
    }

    /// Appends a node; its index.
    fn push(&mut self, tag: Tag, a: usize, b: usize) -> usize {
        self.doc.nodes.push(Node { tag, a, b });
        self.doc.nodes.len() - 1
    }

    /// Records the size and the end of the container at `node`.
    fn close(&mut self, node: usize, count: usize) {
        let end = self.doc.nodes.len();
        if let Some(n) = self.doc.nodes.get_mut(node) {
            n.a = count;
            n.b = end;
        }
    }

    /// Checks the depth before opening a container under `stack`.
    fn enter(&self, stack: &[Frame]) -> Result<(), Error> {
        if self.base_depth + stack.len() < self.max_depth {
            return Ok(());
        }
        Err(Error::TooDeep {
            pointer: self.pointer(stack),
            limit: self.max_depth,
        })
    }

    /// The pointer of the value being parsed in the innermost of `frames`.
    fn pointer(&self, frames: &[Frame]) -> String {
        let mut pointer = String::new();
        for f in frames {
            if f.object {
                push_token(&mut pointer, self.doc.text(f.key.0, f.key.1));
            } else {
                push_index(&mut pointer, f.count);
            }
        }
        pointer
    }

    /// A small object: is `key` already one of its `count` members?
    fn duplicate_on_insert(
        &self,
        node: usize,
        count: usize,
        key: (usize, usize),
    ) -> Option<String> {
        if self.opts.duplicate_keys == DuplicateKeys::ScanAll || count >= LINEAR_DUP_CHECK {
            return None;
        }
        let key = self.doc.text(key.0, key.1);
        self.doc
            .members_of(node, count)
            .any(|(k, _)| k == key)
            .then(|| key.to_owned())
    }

    /// A large object, complete: the duplicate whose second occurrence comes first.
    fn duplicate_on_close(&self, node: usize, count: usize) -> Option<String> {
        if self.opts.duplicate_keys == DuplicateKeys::ScanAll || count <= LINEAR_DUP_CHECK {
            return None;
        }
        let mut keys: Vec<(&str, usize)> = self
            .doc
            .members_of(node, count)
            .enumerate()
            .map(|(i, (k, _))| (k, i))
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
        let enclosing = stack.len().saturating_sub(1);
        let pointer = self.pointer(stack.get(..enclosing).unwrap_or_default());
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

    /// A member key and its `:`; the key's node is appended, its text returned.
    fn key(&mut self, expected: &'static str) -> Result<(usize, usize), Error> {
        if self.peek() != Some(b'"') {
            return Err(self.err_here(expected));
        }
        let (a, b) = self.string()?;
        self.push(Tag::String, a, b);
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.err_here("expected ':' after an object key"));
        }
        self.pos += 1;
        Ok((a, b))
    }

    fn literal(&mut self, word: &'static str, tag: Tag) -> Result<(), Error> {
        let end = self.pos + word.len();
        if self.b.get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            self.push(tag, 0, 0);
            Ok(())
        } else {
            Err(self.err_here("invalid literal: expected true, false or null"))
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as written.
    fn number(&mut self) -> Result<(), Error> {
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
        self.slice(start, self.pos)
            .map_err(|_| self.err_at(start, "invalid number"))?;
        self.push(Tag::Number, self.base + start, self.pos - start);
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// A string, `pos` on its opening quote: where its text is in
    /// `doc.src`. Runs without escapes are found eight bytes at a time; a
    /// string without escapes is where it was sent, one with escapes is
    /// appended unescaped to `doc.src`.
    fn string(&mut self) -> Result<(usize, usize), Error> {
        self.pos += 1;
        let start = self.pos;
        self.pos = scan_plain(self.b, self.pos);
        match self.peek() {
            Some(b'"') => {
                self.slice(start, self.pos)?;
                let span = (self.base + start, self.pos - start);
                self.pos += 1;
                return Ok(span);
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.err_here("control character in string")),
            None => return Err(self.err_here("unterminated string")),
        }
        let at = self.doc.src.len();
        let run = self.slice(start, self.pos)?;
        self.doc.src.push_str(run);
        loop {
            let c = self.escape()?;
            self.doc.src.push(c);
            let run = self.pos;
            self.pos = scan_plain(self.b, self.pos);
            let text = self.slice(run, self.pos)?;
            self.doc.src.push_str(text);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((at, self.doc.src.len() - at));
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

    /// One escape sequence, `pos` on its backslash: the character it stands for.
    fn escape(&mut self) -> Result<char, Error> {
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
            Some(b'u') => return self.unicode_escape(),
            None => return Err(self.err_at(at, "unterminated string")),
            Some(_) => return Err(self.err_at(at, "invalid escape")),
        };
        self.pos = at + 2;
        Ok(c)
    }

    /// `\uXXXX`, or a surrogate pair `\uD8xx\uDCxx`; a lone surrogate is an error.
    fn unicode_escape(&mut self) -> Result<char, Error> {
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
        char::from_u32(cp).ok_or_else(|| self.err_at(at, "invalid escape"))
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

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::super::reference::json::Value;
    use super::*;

    /// Parses, and reads the document back as a tree.
    fn parse_v(input: &[u8], opts: &Options) -> Result<Value, Error> {
        parse(input, opts).map(|d| d.to_value())
    }

    fn p(s: &str) -> Result<Value, Error> {
        parse_v(s.as_bytes(), &Options::default())
    }

    fn syntax(s: &str) -> String {
        match p(s) {
            Err(e @ Error::Syntax { .. }) => e.to_string(),
            other => format!("not a syntax error: {other:?}"),
        }
    }

    fn string(s: &str) -> Value {
        Value::String(s.to_owned())
    }

    #[test]
    fn parses_every_kind_of_value_in_document_order() {
        let v = p(r#" {"b": [1, -2.5e+3, 0, true, false, null], "a": "x"} "#).unwrap();
        assert_eq!(
            v,
            Value::Object(vec![
                (
                    "b".into(),
                    Value::Array(vec![
                        Value::Number("1".into()),
                        Value::Number("-2.5e+3".into()),
                        Value::Number("0".into()),
                        Value::Bool(true),
                        Value::Bool(false),
                        Value::Null,
                    ])
                ),
                ("a".into(), string("x")),
            ])
        );
        assert_eq!(p("\"top\"").unwrap(), string("top"));
        assert_eq!(p("[]").unwrap(), Value::Array(vec![]));
        assert_eq!(p("{}").unwrap(), Value::Object(vec![]));
    }

    #[test]
    fn escapes_are_resolved_including_surrogate_pairs() {
        assert_eq!(
            p(r#""a\"b\\c\/d\b\f\n\r\t""#).unwrap(),
            string("a\"b\\c/d\u{8}\u{c}\n\r\t")
        );
        assert_eq!(
            p(r#""\u0049gnore \u00e9\uD83D\uDE00!""#).unwrap(),
            string("Ignore é😀!")
        );
        assert_eq!(p(r#""\u0000""#).unwrap(), string("\0"));
        // Long plain runs around escapes, to cross the eight-byte scanner.
        let long = format!("\"{}\\n{}é\"", "x".repeat(37), "y".repeat(21));
        assert_eq!(
            p(&long).unwrap(),
            string(&format!("{}\n{}é", "x".repeat(37), "y".repeat(21)))
        );
    }

    #[test]
    fn syntax_errors_say_where_and_what() {
        assert_eq!(
            syntax("{\"a\": 1\n  \"b\": 2}"),
            "line 2, column 3: expected ',' or '}' after an object member"
        );
        assert_eq!(
            syntax("[1 2]"),
            "line 1, column 4: expected ',' or ']' after an array element"
        );
        assert_eq!(
            syntax("\"a\u{1}\""),
            "line 1, column 3: control character in string"
        );
        assert_eq!(syntax(r#"["\x"]"#), "line 1, column 3: invalid escape");
        assert_eq!(
            syntax(r#"["\ud800"]"#),
            "line 1, column 3: lone surrogate \\ud800"
        );
        assert_eq!(
            syntax(r#""\udc00\ud800""#),
            "line 1, column 2: lone surrogate \\udc00"
        );
        assert_eq!(
            syntax(r#""\ud800\u0041""#),
            "line 1, column 2: lone surrogate \\ud800"
        );
        assert_eq!(
            syntax(r#""\u12G4""#),
            "line 1, column 2: invalid escape: \\u needs four hex digits"
        );
        assert_eq!(
            syntax("{} x"),
            "line 1, column 4: trailing characters after the document"
        );
        assert_eq!(
            syntax("{\"a\":1"),
            "line 1, column 7: unexpected end of input, expected ',' or '}' after an object member"
        );
        assert_eq!(
            syntax(""),
            "line 1, column 1: unexpected end of input, expected a value"
        );
        assert_eq!(
            syntax("[01]"),
            "line 1, column 3: leading zeros are not allowed in a number"
        );
        assert_eq!(
            syntax("[1.]"),
            "line 1, column 4: invalid number: expected a digit after '.'"
        );
        assert_eq!(
            syntax("[1e]"),
            "line 1, column 4: invalid number: expected a digit in the exponent"
        );
        assert_eq!(
            syntax("[-]"),
            "line 1, column 3: invalid number: expected a digit"
        );
        assert_eq!(
            syntax("[tru]"),
            "line 1, column 2: invalid literal: expected true, false or null"
        );
        assert_eq!(syntax("[NaN]"), "line 1, column 2: expected a value");
        assert_eq!(
            syntax("{\"a\" 1}"),
            "line 1, column 6: expected ':' after an object key"
        );
        assert_eq!(
            syntax("{1:1}"),
            "line 1, column 2: expected a string key or '}'"
        );
        assert_eq!(
            syntax("{\"a\":1,}"),
            "line 1, column 8: expected a string key after ','"
        );
        assert_eq!(syntax("[1,]"), "line 1, column 4: expected a value");
        assert_eq!(
            syntax("\"abc"),
            "line 1, column 5: unexpected end of input, unterminated string"
        );
        // Columns count characters, not bytes.
        assert_eq!(
            syntax("[\"é\" 1]"),
            "line 1, column 6: expected ',' or ']' after an array element"
        );
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_offset() {
        assert_eq!(
            parse_v(b"[\"ab\xff\"]", &Options::default()),
            Err(Error::InvalidUtf8 { offset: 4 })
        );
    }

    #[test]
    fn depth_is_bounded_and_the_error_points_where() {
        let opts = Options {
            max_depth: 3,
            duplicate_keys: DuplicateKeys::Reject,
        };
        assert!(parse_v(br#"{"a":[{"b":1}]}"#, &opts).is_ok());
        assert_eq!(
            parse_v(br#"{"a":[{"b/c":[1]}]}"#, &opts),
            Err(Error::TooDeep {
                pointer: "/a/0/b~1c".into(),
                limit: 3
            })
        );
        assert_eq!(
            parse_v(b"[[[[]]]]", &opts),
            Err(Error::TooDeep {
                pointer: "/0/0/0".into(),
                limit: 3
            })
        );
        // The ceiling holds whatever the options say.
        let huge = Options {
            max_depth: usize::MAX,
            duplicate_keys: DuplicateKeys::Reject,
        };
        let deep = "[".repeat(100_000);
        assert!(matches!(
            parse_v(deep.as_bytes(), &huge),
            Err(Error::TooDeep {
                limit: JSON_DEPTH_CEILING,
                ..
            })
        ));
        // Depth counted from an enclosing document.
        assert!(matches!(
            parse_str("[[1]]", &opts, 2),
            Err(Error::TooDeep { .. })
        ));
    }

    #[test]
    fn duplicate_keys_are_rejected_or_kept() {
        let e = p(r#"{"m":[{"role":"user","role":"system"}]}"#).unwrap_err();
        assert_eq!(
            e,
            Error::DuplicateKey {
                pointer: "/m/0".into(),
                key: "role".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "duplicate key \"role\" in the object at \"/m/0\""
        );
        // A large object is checked when it closes.
        let mut big: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        big.push("\"k7\":0".into());
        let doc = format!("{{{}}}", big.join(","));
        assert_eq!(
            p(&doc),
            Err(Error::DuplicateKey {
                pointer: String::new(),
                key: "k7".into()
            })
        );
        // Long keys are cut in the error.
        let k = "k".repeat(100);
        let e = p(&format!("{{\"{k}\":1,\"{k}\":2}}")).unwrap_err();
        assert_eq!(
            e,
            Error::DuplicateKey {
                pointer: String::new(),
                key: format!("{}...", "k".repeat(64))
            }
        );
        let scan = Options {
            max_depth: 64,
            duplicate_keys: DuplicateKeys::ScanAll,
        };
        let v = parse_v(br#"{"a":1,"a":2}"#, &scan).unwrap();
        assert_eq!(
            v,
            Value::Object(vec![
                ("a".into(), Value::Number("1".into())),
                ("a".into(), Value::Number("2".into()))
            ])
        );
    }

    #[test]
    fn pointer_follows_rfc_6901() {
        let d = parse(
            br#"{"a/b":{"m~n":[10,{"":"empty"}]},"x":[0],"x":"dup"}"#,
            &Options {
                max_depth: 64,
                duplicate_keys: DuplicateKeys::ScanAll,
            },
        )
        .unwrap();
        let at = |ptr: &str| d.pointer(ptr).map(|v| v.to_value());
        assert_eq!(at(""), Some(d.to_value()));
        assert_eq!(at("/a~1b/m~0n/0"), Some(Value::Number("10".into())));
        assert_eq!(at("/a~1b/m~0n/1/"), Some(string("empty")));
        assert_eq!(at("/x/00"), None);
        assert_eq!(at("/x/-"), None);
        assert_eq!(at("/x/1"), None);
        assert_eq!(at("/a~2b"), None);
        assert_eq!(at("x"), None);
        // The first of duplicate members wins.
        assert_eq!(at("/x/0"), Some(Value::Number("0".into())));
        assert_eq!(
            d.get("x")
                .and_then(|x| x.pointer("/0"))
                .map(|v| v.to_value()),
            Some(Value::Number("0".into()))
        );
        assert_eq!(d.root().count(), 3);
        assert_eq!(d.get("a/b").map(|v| v.members().count()), Some(1));
        assert!(d.get("x").is_some_and(|x| x.is_array() && !x.is_object()));
        // A handle of the wrong kind has no members, elements or text.
        let x = d.get("x").unwrap();
        assert_eq!((x.members().count(), x.as_str()), (0, None));
        assert_eq!(d.root().items().count(), 0);
        assert_eq!(Document::default().root().count(), 0);
        assert_eq!(Document::default().pointer("/a").map(|v| v.count()), None);
    }

    #[test]
    fn pointer_tokens_are_escaped_and_indices_written() {
        let mut p = String::new();
        for i in [0, 7, 10, 1234567, usize::MAX] {
            push_index(&mut p, i);
        }
        push_token(&mut p, "a/b~c");
        push_token(&mut p, "");
        assert_eq!(p, format!("/0/7/10/1234567/{}/a~1b~0c/", usize::MAX));
    }

    #[test]
    fn the_scanner_stops_at_every_special_byte() {
        for pos in 0..20 {
            for special in [b'"', b'\\', 0x1f, 0x00] {
                let mut b = vec![b'a'; 20];
                b[pos] = special;
                assert_eq!(scan_plain(&b, 0), pos);
            }
            let b = vec![0xC3; 20];
            assert_eq!(scan_plain(&b, pos), 20);
            // A later special byte, and bytes that borrow, do not hide the first.
            let mut b: Vec<u8> = (0..20u8).map(|k| b'A' + k).collect();
            b[pos] = b'\\';
            b[(pos + 1) % 20] = 0x00;
            assert_eq!(scan_plain(&b, 0), pos.min((pos + 1) % 20));
        }
    }
}
