//! Stage 1: from request bytes to the texts a model will read.
//!
//! Input: a [`Request`](crate::request::Request) and the [`Limits`](crate::limits::Limits). [`body`] first
//! undoes the content codings and reads the charset. Output: a [`Payload`] — the API
//! recognized, every text segment with its JSON pointer and role, and the
//! parsed document (for validation rules) — or a [`PayloadError`] that says
//! exactly what is wrong and carries the HTTP status to answer with.
//!
//! Invariants: every string value of a JSON body is extracted exactly once
//! (known fields with their role, the rest with [`Role::Other`]), so no field
//! a model server might read is left unscanned; nothing here panics on any
//! input; every limit is checked and reported, never silently truncated.

pub mod body;
mod extract;
pub mod json;
#[cfg(test)]
mod reference;

pub use extract::{api_from_path, extract};

use std::fmt;

/// The API a request speaks, recognized from its path and shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKind {
    /// OpenAI `/v1/chat/completions` (and compatible servers: vLLM, Ollama...).
    OpenAiChat,
    /// OpenAI legacy `/v1/completions`: `prompt`.
    OpenAiCompletions,
    /// OpenAI `/v1/embeddings`: `input`.
    OpenAiEmbeddings,
    /// OpenAI `/v1/responses`: `input`, `instructions`.
    OpenAiResponses,
    /// Anthropic `/v1/messages`.
    AnthropicMessages,
    /// Gemini `models/*:generateContent` and `:streamGenerateContent`.
    GeminiGenerate,
    /// MCP JSON-RPC (`{"jsonrpc":"2.0","method":...}`).
    McpJsonRpc,
    /// Any other JSON document: every string value.
    GenericJson,
    /// JSON Lines (fine-tuning and feedback uploads): every line.
    JsonLines,
    /// A plain-text body.
    PlainText,
}

impl ApiKind {
    /// All kinds, in a stable order (for rule-file validation messages).
    pub const ALL: [ApiKind; 10] = [
        ApiKind::OpenAiChat,
        ApiKind::OpenAiCompletions,
        ApiKind::OpenAiEmbeddings,
        ApiKind::OpenAiResponses,
        ApiKind::AnthropicMessages,
        ApiKind::GeminiGenerate,
        ApiKind::McpJsonRpc,
        ApiKind::GenericJson,
        ApiKind::JsonLines,
        ApiKind::PlainText,
    ];

    /// The snake_case name used in rule files and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKind::OpenAiChat => "openai_chat",
            ApiKind::OpenAiCompletions => "openai_completions",
            ApiKind::OpenAiEmbeddings => "openai_embeddings",
            ApiKind::OpenAiResponses => "openai_responses",
            ApiKind::AnthropicMessages => "anthropic_messages",
            ApiKind::GeminiGenerate => "gemini_generate",
            ApiKind::McpJsonRpc => "mcp",
            ApiKind::GenericJson => "json",
            ApiKind::JsonLines => "jsonl",
            ApiKind::PlainText => "text",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Self> {
        ApiKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ApiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a segment of text speaks as. Rules target roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// System prompt (`system` message, Anthropic `system`, Gemini `systemInstruction`, Responses `instructions`).
    System,
    /// OpenAI `developer` message.
    Developer,
    /// User message, legacy `prompt`, embeddings `input`, plain-text body.
    User,
    /// Assistant message (client-supplied history, so still untrusted).
    Assistant,
    /// Tool or function results (`tool` messages, Anthropic `tool_result`, Gemini `functionResponse`).
    Tool,
    /// Arguments of a tool call (`tool_calls[].function.arguments`, MCP `tools/call` arguments, Anthropic `tool_use.input`).
    ToolCall,
    /// Tool definitions: names, descriptions and schemas in `tools[]`.
    ToolDefinition,
    /// Any other string in the document.
    Other,
}

impl Role {
    /// All roles, in a stable order.
    pub const ALL: [Role; 8] = [
        Role::System,
        Role::Developer,
        Role::User,
        Role::Assistant,
        Role::Tool,
        Role::ToolCall,
        Role::ToolDefinition,
        Role::Other,
    ];

    /// The snake_case name used in rule files and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::ToolCall => "tool_call",
            Role::ToolDefinition => "tool_definition",
            Role::Other => "other",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One text a model will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// RFC 6901 JSON pointer of the string in the body (`/messages/2/content/0/text`).
    /// For JSON Lines the line index (0-based) comes first, as if the body were
    /// an array: `/3/messages/0/content`. For a plain-text body: the empty string.
    /// A string found inside a JSON-encoded string (tool-call `arguments`) gets the
    /// outer pointer, `#`, and the inner pointer: `/messages/1/tool_calls/0/function/arguments#/query`.
    pub pointer: String,
    /// Who speaks.
    pub role: Role,
    /// The text, JSON escapes resolved, otherwise exactly as sent.
    pub text: String,
}

/// What stage 1 found in a request.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The API recognized.
    pub api: ApiKind,
    /// Every text, in document order.
    pub segments: Vec<Segment>,
    /// The parsed JSON document (for JSON Lines: an array of the lines), `None` for text.
    pub document: Option<json::Document>,
    /// Number of chat messages (`messages`, `contents`, Responses `input` items); 0 where there are none.
    pub message_count: usize,
}

/// Why a request could not be extracted. Each carries its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// The body is larger than `max_body_bytes` (413).
    BodyTooLarge { limit: usize, actual: usize },
    /// The body is not valid JSON where JSON is expected (400).
    MalformedJson {
        line: usize,
        column: usize,
        message: String,
    },
    /// A JSON Lines body has a line that is not valid JSON (400). `line` is 1-based.
    MalformedJsonLine {
        line: usize,
        column: usize,
        message: String,
    },
    /// A JSON Lines body has more than `max_jsonl_lines` lines (413).
    TooManyLines { limit: usize },
    /// JSON nesting deeper than `max_json_depth` (400).
    TooDeep { pointer: String, limit: usize },
    /// More than `max_segments` text segments (400).
    TooManySegments { limit: usize },
    /// More than `max_text_bytes` of extracted text (413).
    TextTooLarge { limit: usize },
    /// The same key twice in one object, with `duplicate_keys: reject` (400).
    DuplicateKey { pointer: String, key: String },
    /// The body (or a JSON string) is not valid UTF-8 (400). `offset` is a
    /// byte offset in the body, after its content codings are undone.
    InvalidUtf8 { offset: usize },
    /// A content type the engine cannot inspect (415).
    UnsupportedContentType { content_type: String },
    /// The content codings or the charset could not be undone (413, 415 or 400).
    Body(body::BodyError),
}

impl PayloadError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            PayloadError::BodyTooLarge { .. }
            | PayloadError::TooManyLines { .. }
            | PayloadError::TextTooLarge { .. } => 413,
            PayloadError::UnsupportedContentType { .. } => 415,
            PayloadError::Body(e) => e.status(),
            _ => 400,
        }
    }

    /// A short stable code for logs, metrics and error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            PayloadError::BodyTooLarge { .. } => "body_too_large",
            PayloadError::MalformedJson { .. } => "malformed_json",
            PayloadError::MalformedJsonLine { .. } => "malformed_json_line",
            PayloadError::TooManyLines { .. } => "too_many_lines",
            PayloadError::TooDeep { .. } => "json_too_deep",
            PayloadError::TooManySegments { .. } => "too_many_segments",
            PayloadError::TextTooLarge { .. } => "text_too_large",
            PayloadError::DuplicateKey { .. } => "duplicate_key",
            PayloadError::InvalidUtf8 { .. } => "invalid_utf8",
            PayloadError::UnsupportedContentType { .. } => "unsupported_content_type",
            PayloadError::Body(e) => e.code(),
        }
    }
}

impl fmt::Display for PayloadError {
    /// Messages never quote request text: only positions, pointers, keys' lengths and limits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::BodyTooLarge { limit, actual } => {
                write!(f, "request body is {actual} bytes, over the limit of {limit} bytes (limits.max_body_bytes)")
            }
            PayloadError::MalformedJson { line, column, message } => {
                write!(f, "request body is not valid JSON at line {line}, column {column}: {message}")
            }
            PayloadError::MalformedJsonLine { line, column, message } => {
                write!(f, "JSON Lines body: line {line} is not valid JSON at column {column}: {message}")
            }
            PayloadError::TooManyLines { limit } => {
                write!(f, "JSON Lines body has more than {limit} lines (limits.max_jsonl_lines)")
            }
            PayloadError::TooDeep { pointer, limit } => {
                write!(f, "JSON nesting deeper than {limit} levels at {pointer:?} (limits.max_json_depth)")
            }
            PayloadError::TooManySegments { limit } => {
                write!(f, "request holds more than {limit} text segments (limits.max_segments)")
            }
            PayloadError::TextTooLarge { limit } => {
                write!(f, "request holds more than {limit} bytes of text (limits.max_text_bytes)")
            }
            PayloadError::DuplicateKey { pointer, key } => write!(
                f,
                "duplicate key {key:?} in the object at {pointer:?}: servers disagree on which value wins, so it is rejected (limits.duplicate_keys)"
            ),
            PayloadError::InvalidUtf8 { offset } => write!(f, "request body is not valid UTF-8 at byte {offset}"),
            PayloadError::UnsupportedContentType { content_type } => write!(
                f,
                "content type {content_type:?} cannot be inspected; use application/json, application/jsonl or text/plain"
            ),
            PayloadError::Body(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PayloadError {}

impl From<body::BodyError> for PayloadError {
    /// Invalid UTF-8 keeps its own variant (and code, `invalid_utf8`).
    fn from(e: body::BodyError) -> Self {
        match e {
            body::BodyError::InvalidText {
                charset: body::Charset::Utf8,
                offset,
                ..
            } => PayloadError::InvalidUtf8 { offset },
            e => PayloadError::Body(e),
        }
    }
}
