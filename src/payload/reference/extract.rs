//! The extraction as it was before the tape parser (`Value` tree, then a
//! walk over it), kept verbatim as the reference the differential tests
//! compare [`crate::payload::extract`] with. Test builds only.

use super::json::{self, push_index, push_token, Options, Value};
use crate::limits::Limits;
use crate::payload::body::{self, BodyError};
use crate::payload::{ApiKind, PayloadError, Role, Segment};
use crate::request::Request;

/// The old [`crate::payload::Payload`]: the document as a [`Value`] tree.
#[derive(Debug, Clone)]
pub struct RefPayload {
    pub api: ApiKind,
    pub segments: Vec<Segment>,
    pub document: Option<Value>,
    pub message_count: usize,
}

/// Extracts every text segment of a request, within `limits`.
///
/// Never panics, never truncates: past a limit it returns the matching
/// [`PayloadError`].
pub fn extract(req: &Request<'_>, limits: &Limits) -> Result<RefPayload, PayloadError> {
    if req.body.len() > limits.max_body_bytes {
        return Err(PayloadError::BodyTooLarge {
            limit: limits.max_body_bytes,
            actual: req.body.len(),
        });
    }
    let declared = declared_type(req.content_type);
    let decoded = match body::decode(req.content_encoding, req.content_type, req.body, limits) {
        Ok(d) => d,
        // Binary under a binary type: the type is the reason it cannot be read.
        Err(BodyError::InvalidText { .. }) if declared == Declared::Unsupported => {
            return Err(unsupported_type(req.content_type))
        }
        Err(e) => return Err(e.into()),
    };
    let text: &str = &decoded.text;
    if text.is_empty() {
        // Nothing a model could read (a GET, a bodiless POST), whatever the
        // headers say: no segments, and no error to block it with.
        let api = match declared {
            Declared::JsonLines => ApiKind::JsonLines,
            _ => api_from_path(&req.route()).unwrap_or(ApiKind::PlainText),
        };
        return Ok(RefPayload {
            api,
            segments: Vec::new(),
            document: None,
            message_count: 0,
        });
    }
    let looks_json = matches!(text.bytes().find(|b| !is_ws(*b)), Some(b'{' | b'['));
    if declared == Declared::Unsupported && !looks_json {
        return Err(unsupported_type(req.content_type));
    }
    let opts = Options::from_limits(limits);

    // A server that honours a text/* type reads the body as raw text, JSON
    // escapes and keys included: scan that reading too. So is the UTF-8
    // reading of a body whose UTF-16/32 charset was only guessed, for a
    // server that does not guess (a JSON parser cannot read it as UTF-8).
    let mut raw: Vec<&str> = Vec::new();
    if declared == Declared::Text {
        raw.push(text);
    }
    if let (Some(utf8), false) = (
        &decoded.utf8_reading,
        matches!(declared, Declared::Json | Declared::JsonLines),
    ) {
        raw.push(utf8);
    }
    let raw = raw.as_slice();
    if declared == Declared::JsonLines {
        return json_lines(text, limits, &[]);
    }
    if declared != Declared::Json && !looks_json {
        return plain_text(text, limits, false, None);
    }
    let err = match json::parse_str(text, &opts, 0) {
        Ok(doc) => return json_document(req, doc, limits, raw),
        Err(e @ json::Error::Syntax { .. }) => e,
        Err(e) => return Err(json_error(e, "")),
    };
    // Not one JSON document. Maybe JSON Lines sent under another type.
    if let Some(first_line) = jsonl_candidate(text) {
        match json_lines(text, limits, raw) {
            Ok(p) => return Ok(p),
            // The first line alone is not JSON: not JSON Lines after all.
            Err(PayloadError::MalformedJsonLine { line, .. }) if line == first_line => {}
            Err(e @ PayloadError::MalformedJsonLine { .. }) if declared == Declared::Json => {
                return Err(e)
            }
            Err(PayloadError::MalformedJsonLine { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    match declared {
        Declared::Json => Err(json_error(err, "")),
        Declared::Unsupported => Err(unsupported_type(req.content_type)),
        // Text that merely starts like JSON (`[INST] ...`): scan it as text.
        _ => plain_text(text, limits, true, decoded.utf8_reading.as_deref()),
    }
}

/// Recognizes the API from the path alone (the query string is ignored).
/// `None` when the path says nothing; [`extract`] then looks at the body.
fn api_from_path(path: &str) -> Option<ApiKind> {
    let path = path
        .split(['?', '#'])
        .next()
        .unwrap_or(path)
        .trim_end_matches('/');
    let ends = |suffix: &str| {
        path.len() >= suffix.len()
            && path
                .get(path.len() - suffix.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
    };
    let lower = path.to_ascii_lowercase();
    if ends("/chat/completions") {
        Some(ApiKind::OpenAiChat)
    } else if ends("/completions") {
        Some(ApiKind::OpenAiCompletions)
    } else if ends("/embeddings") {
        Some(ApiKind::OpenAiEmbeddings)
    } else if ends("/responses") {
        Some(ApiKind::OpenAiResponses)
    } else if ends("/messages") || ends("/messages/count_tokens") {
        Some(ApiKind::AnthropicMessages)
    } else if lower.contains(":generatecontent") || lower.contains(":streamgeneratecontent") {
        Some(ApiKind::GeminiGenerate)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Headers

/// What the content type header says the body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Missing,
    Json,
    JsonLines,
    Text,
    /// Binary or unknown (`multipart/form-data`, `application/octet-stream`...).
    Unsupported,
}

/// Classifies the content type by its media type; its charset is
/// [`body::decode`]'s.
fn declared_type(content_type: Option<&str>) -> Declared {
    let Some(raw) = content_type.map(str::trim).filter(|s| !s.is_empty()) else {
        return Declared::Missing;
    };
    let mime = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Declared::Json,
        "application/jsonl"
        | "application/x-ndjson"
        | "application/json-lines"
        | "application/jsonlines" => Declared::JsonLines,
        m if m.starts_with("application/") && m.ends_with("+json") => Declared::Json,
        m if m.starts_with("text/") => Declared::Text,
        _ => Declared::Unsupported,
    }
}

fn unsupported_type(content_type: Option<&str>) -> PayloadError {
    PayloadError::UnsupportedContentType {
        content_type: truncate(content_type.unwrap_or_default().trim(), 64),
    }
}

/// At most `max` characters of a header value, for an error message.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", s.get(..cut).unwrap_or_default()),
        None => s.to_owned(),
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// A parse error as the request's error; `prefix` is prepended to pointers
/// (a JSON Lines line index, or an outer pointer and `#`).
fn json_error(e: json::Error, prefix: &str) -> PayloadError {
    match e {
        json::Error::Syntax {
            line,
            column,
            message,
            ..
        } => PayloadError::MalformedJson {
            line,
            column,
            message: message.into_owned(),
        },
        json::Error::InvalidUtf8 { offset } => PayloadError::InvalidUtf8 { offset },
        json::Error::TooDeep { pointer, limit } => PayloadError::TooDeep {
            pointer: format!("{prefix}{pointer}"),
            limit,
        },
        json::Error::DuplicateKey { pointer, key } => PayloadError::DuplicateKey {
            pointer: format!("{prefix}{pointer}"),
            key,
        },
    }
}

// ---------------------------------------------------------------------------
// The three kinds of body

/// A text body. `utf8`: the UTF-8 reading of a body whose charset was guessed.
fn plain_text(
    text: &str,
    limits: &Limits,
    looked_like_json: bool,
    utf8: Option<&str>,
) -> Result<RefPayload, PayloadError> {
    let mut w = Walker::new(limits);
    w.emit(Role::User, text)?;
    if let Some(utf8) = utf8 {
        w.emit(Role::User, utf8)?;
    }
    if looked_like_json {
        // A lenient JSON parser (NaN, comments, trailing commas) may still
        // read this body and resolve its `\u` escapes: scan that reading too.
        if let Some(unescaped) = resolve_unicode_escapes(text) {
            w.emit(Role::User, &unescaped)?;
        }
    }
    Ok(RefPayload {
        api: ApiKind::PlainText,
        segments: w.segments,
        document: None,
        message_count: 0,
    })
}

/// A JSON body. `raw`: readings of the body to scan also as one text each (see [`extract`]).
fn json_document(
    req: &Request<'_>,
    doc: Value,
    limits: &Limits,
    raw: &[&str],
) -> Result<RefPayload, PayloadError> {
    let api = api_from_path(&req.route()).unwrap_or_else(|| api_from_shape(&doc));
    let mut w = Walker::new(limits);
    for r in raw {
        w.emit(Role::User, r)?;
    }
    w.walk(&doc, Ctx::Root, 0)?;
    let message_count = message_count(api, &doc);
    Ok(RefPayload {
        api,
        segments: w.segments,
        document: Some(doc),
        message_count,
    })
}

/// The 1-based number of the first non-blank line if the body could be JSON
/// Lines: that line starts an object and another non-blank line follows.
fn jsonl_candidate(text: &str) -> Option<usize> {
    let mut lines = text
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.bytes().all(is_ws));
    let (first_no, first) = lines.next()?;
    lines.next()?;
    first
        .trim_start_matches([' ', '\t'])
        .starts_with('{')
        .then_some(first_no + 1)
}

/// A JSON Lines body. `raw`: readings of the body to scan also as one text each (see [`extract`]).
fn json_lines(text: &str, limits: &Limits, raw: &[&str]) -> Result<RefPayload, PayloadError> {
    let opts = Options::from_limits(limits);
    let mut docs = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if line.bytes().all(is_ws) {
            continue;
        }
        if docs.len() >= limits.max_jsonl_lines {
            return Err(PayloadError::TooManyLines {
                limit: limits.max_jsonl_lines,
            });
        }
        // Each line is its own document: depth counts from the line.
        match json::parse_str(line, &opts, 0) {
            Ok(v) => docs.push(v),
            Err(json::Error::Syntax {
                column, message, ..
            }) => {
                return Err(PayloadError::MalformedJsonLine {
                    line: i + 1,
                    column,
                    message: message.into_owned(),
                })
            }
            Err(e) => return Err(json_error(e, &format!("/{}", docs.len()))),
        }
    }
    let mut w = Walker::new(limits);
    for r in raw {
        w.emit(Role::User, r)?;
    }
    let mut message_count = 0;
    for (i, line) in docs.iter().enumerate() {
        push_index(&mut w.ptr, i);
        w.walk(line, Ctx::Root, 0)?;
        w.ptr.clear();
        message_count = message_count.max(line_messages(line));
    }
    Ok(RefPayload {
        api: ApiKind::JsonLines,
        segments: w.segments,
        document: Some(Value::Array(docs)),
        message_count,
    })
}

// ---------------------------------------------------------------------------
// API recognition by shape, and message counts

/// The API a JSON body looks like, for a path that does not say.
fn api_from_shape(doc: &Value) -> ApiKind {
    match doc {
        Value::Object(_) => {
            if let Some(Value::Array(messages)) = doc.get("messages") {
                return chat_kind(doc, messages);
            }
            if doc.get("contents").is_some() {
                return ApiKind::GeminiGenerate;
            }
            if doc.get("jsonrpc").is_some() {
                return ApiKind::McpJsonRpc;
            }
            if let (Some(input), Some(_)) = (doc.get("input"), doc.get("model")) {
                return if is_responses(doc, input) {
                    ApiKind::OpenAiResponses
                } else {
                    ApiKind::OpenAiEmbeddings
                };
            }
            if doc.get("prompt").is_some() {
                return ApiKind::OpenAiCompletions;
            }
            ApiKind::GenericJson
        }
        Value::Array(items)
            if !items.is_empty() && items.iter().all(|m| m.get("jsonrpc").is_some()) =>
        {
            ApiKind::McpJsonRpc
        }
        _ => ApiKind::GenericJson,
    }
}

/// OpenAI chat, unless the body has Anthropic's marks (a top-level `system`,
/// `tool_use` / `tool_result` blocks...) and none of OpenAI's.
fn chat_kind(doc: &Value, messages: &[Value]) -> ApiKind {
    let mut anthropic = matches!(doc.get("system"), Some(Value::String(_) | Value::Array(_)));
    let mut openai = false;
    for m in messages {
        if matches!(
            m.get("role").and_then(Value::as_str),
            Some("system" | "developer" | "tool" | "function")
        ) || m.get("tool_calls").is_some()
            || m.get("function_call").is_some()
        {
            openai = true;
        }
        for part in m
            .get("content")
            .and_then(Value::as_array)
            .unwrap_or_default()
        {
            match part.get("type").and_then(Value::as_str) {
                Some(
                    "tool_use" | "tool_result" | "thinking" | "redacted_thinking" | "document",
                ) => anthropic = true,
                Some("image") if part.get("source").is_some() => anthropic = true,
                Some("image_url" | "input_audio" | "file" | "refusal") => openai = true,
                _ => {}
            }
        }
    }
    if anthropic && !openai {
        ApiKind::AnthropicMessages
    } else {
        ApiKind::OpenAiChat
    }
}

/// Responses rather than embeddings: items with roles or types, or a field
/// only the Responses API has.
fn is_responses(doc: &Value, input: &Value) -> bool {
    const RESPONSES_ONLY: [&str; 8] = [
        "instructions",
        "previous_response_id",
        "reasoning",
        "text",
        "tools",
        "store",
        "max_output_tokens",
        "conversation",
    ];
    RESPONSES_ONLY.iter().any(|k| doc.get(k).is_some())
        || input
            .as_array()
            .is_some_and(|items| items.iter().any(|i| matches!(i, Value::Object(_))))
}

/// `messages`, `contents` or Responses `input` items.
fn message_count(api: ApiKind, doc: &Value) -> usize {
    let len = |v: Option<&Value>| v.and_then(Value::as_array).map_or(0, <[Value]>::len);
    match api {
        ApiKind::OpenAiResponses => match doc.get("input") {
            Some(Value::Array(items)) => items.len(),
            Some(Value::String(_)) => 1,
            _ => 0,
        },
        ApiKind::McpJsonRpc => match doc {
            Value::Array(batch) => batch
                .iter()
                .map(|m| len(m.pointer("/params/messages")))
                .sum(),
            _ => len(doc.pointer("/params/messages")),
        },
        _ => len(doc.get("messages")).max(len(doc.get("contents"))),
    }
}

/// Messages of one JSON Lines line (fine-tuning `messages`, or preference
/// data's `input.messages`).
fn line_messages(line: &Value) -> usize {
    let len = |v: Option<&Value>| v.and_then(Value::as_array).map_or(0, <[Value]>::len);
    len(line.get("messages"))
        .max(len(line.get("contents")))
        .max(len(line.pointer("/input/messages")))
}

// ---------------------------------------------------------------------------
// The walk

/// Where in a document the walk is: decides the role of a string found here,
/// and the context of each child. Cheap to copy; one per level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// The top of a request (any API), a JSON Lines line, an MCP batch element.
    Root,
    /// [`Ctx::Root`] once the object is known: an MCP message's method.
    Request(Method),
    /// Nothing known: strings are [`Role::Other`].
    Other,
    /// Text of this role, all the way down (keys are field names: not emitted).
    Under(Role),
    /// Free-form data of this role (tool arguments, schemas): values and keys.
    Free(Role),
    /// A string that may hold a JSON document (tool-call `arguments`); as a
    /// container, free-form data.
    Json(Role),
    /// A list of messages (`messages`, `contents`, Responses `input`); the
    /// role is the default for an item that names none.
    Msgs(Role),
    /// One message, content or item, speaking as this role.
    Msg(Role),
    /// A message's content: a string, a list of parts, or one part. `json`:
    /// its texts may hold JSON documents (MCP tool results).
    Content { role: Role, json: bool },
    /// One content part / block.
    Part {
        role: Role,
        block: Block,
        json: bool,
    },
    /// A function or tool call (OpenAI `tool_calls[]`, `function_call`, Gemini `functionCall`).
    Call,
    /// A Gemini `functionResponse`.
    Response,
    /// Tool definitions: `tools[]`, `functions[]`, `functionDeclarations[]`.
    ToolDef,
    /// MCP `params`, by method.
    Params(Method),
    /// MCP `result`.
    McpResult,
}

/// The kind of a content block that changes how its fields read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    ToolUse,
    ToolResult,
    Plain,
}

/// The MCP methods whose params carry text for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    ToolsCall,
    PromptsGet,
    Sampling,
    Other,
}

impl Ctx {
    /// The role of a string found directly here.
    fn role(self) -> Role {
        match self {
            Ctx::Root | Ctx::Request(_) | Ctx::Other | Ctx::Params(_) => Role::Other,
            Ctx::Under(r) | Ctx::Free(r) | Ctx::Json(r) | Ctx::Msgs(r) | Ctx::Msg(r) => r,
            Ctx::Content { role, .. } | Ctx::Part { role, .. } => role,
            Ctx::Call => Role::ToolCall,
            Ctx::Response | Ctx::McpResult => Role::Tool,
            Ctx::ToolDef => Role::ToolDefinition,
        }
    }

    /// Whether a string found here may be a JSON document to parse.
    fn embedded_json(self) -> bool {
        matches!(self, Ctx::Json(_) | Ctx::Content { json: true, .. })
    }

    /// Whether object keys here are data (emitted) rather than field names.
    fn keys_are_text(self) -> bool {
        matches!(self, Ctx::Free(_) | Ctx::Json(_))
    }

    /// The context of an array element.
    fn element(self, item: &Value) -> Ctx {
        match self {
            Ctx::Root | Ctx::Request(_) => Ctx::Root,
            Ctx::Msgs(default) => match item {
                Value::Object(_) => Ctx::Msg(message_role(item, default)),
                _ => self,
            },
            Ctx::Content { role, json } => match item {
                Value::Object(_) => Ctx::Part {
                    role,
                    block: block_of(item),
                    json,
                },
                _ => self,
            },
            Ctx::Json(r) => Ctx::Free(r),
            Ctx::Part { .. } | Ctx::Params(_) | Ctx::McpResult => Ctx::Other,
            Ctx::Msg(r) => Ctx::Under(r),
            Ctx::Other
            | Ctx::Under(_)
            | Ctx::Free(_)
            | Ctx::Call
            | Ctx::Response
            | Ctx::ToolDef => self,
        }
    }

    /// The context for the members of the object `obj`, found here. What
    /// depends on a sibling (a block's `type`, an MCP `method`) is looked up
    /// once per object, not once per member (no quadratic work on huge objects).
    fn object(self, obj: &Value) -> Ctx {
        match self {
            Ctx::Root => Ctx::Request(method_of(obj)),
            // A single part given as an object (MCP `content: {type, text}`).
            Ctx::Content { role, json } => Ctx::Part {
                role,
                block: block_of(obj),
                json,
            },
            other => other,
        }
    }

    /// The context of the member `key` (value `v`) of an object, `self` being
    /// the object's context from [`Ctx::object`].
    fn member(self, key: &str, v: &Value) -> Ctx {
        match self {
            Ctx::Other | Ctx::Under(_) | Ctx::Free(_) => self,
            Ctx::Json(r) => Ctx::Free(r),
            Ctx::Root => Ctx::Request(Method::Other).member(key, v),
            Ctx::Request(method) => match key {
                "messages" | "contents" => Ctx::Msgs(Role::User),
                "input" => match v {
                    // Preference data: `input` is itself a chat request.
                    Value::Object(_) => Ctx::Root,
                    _ => Ctx::Msgs(Role::User),
                },
                "preferred_output" | "non_preferred_output" => Ctx::Msgs(Role::Assistant),
                "system" => Ctx::Content {
                    role: Role::System,
                    json: false,
                },
                "instructions" => Ctx::Under(Role::System),
                "systemInstruction" | "system_instruction" => Ctx::Msg(Role::System),
                "prompt" | "suffix" => Ctx::Under(Role::User),
                "completion" | "chosen" | "rejected" => Ctx::Under(Role::Assistant),
                "tools" | "functions" => Ctx::ToolDef,
                "params" => Ctx::Params(method),
                "result" => Ctx::McpResult,
                _ => Ctx::Other,
            },
            Ctx::Msgs(_) => Ctx::Other,
            Ctx::Msg(r) => match key {
                "content" | "parts" | "summary" => Ctx::Content {
                    role: r,
                    json: false,
                },
                "name" | "refusal" | "reasoning_content" | "reasoning" | "thinking" => {
                    Ctx::Under(r)
                }
                "tool_calls" | "function_call" => Ctx::Call,
                "arguments" => Ctx::Json(Role::ToolCall),
                "input" => Ctx::Free(Role::ToolCall),
                "output" => Ctx::Under(Role::Tool),
                _ => Ctx::Other,
            },
            Ctx::Content { role, json } => Ctx::Part {
                role,
                block: Block::Plain,
                json,
            }
            .member(key, v),
            Ctx::Part { role, block, json } => match key {
                "text" if json => Ctx::Json(role),
                "text" | "refusal" | "thinking" | "image_url" | "source" | "title" | "context"
                | "resource" | "executableCode" | "executable_code" => Ctx::Under(role),
                "input" => Ctx::Free(Role::ToolCall),
                "name" if block == Block::ToolUse => Ctx::Under(Role::ToolCall),
                "content" if block == Block::ToolResult => Ctx::Content {
                    role: Role::Tool,
                    json,
                },
                "content" => Ctx::Content { role, json },
                "functionCall" | "function_call" => Ctx::Call,
                "functionResponse" | "function_response" => Ctx::Response,
                "codeExecutionResult" | "code_execution_result" => Ctx::Under(Role::Tool),
                _ => Ctx::Other,
            },
            Ctx::Call => match key {
                "function" => Ctx::Call,
                "arguments" => Ctx::Json(Role::ToolCall),
                "args" | "input" => Ctx::Free(Role::ToolCall),
                "name" => Ctx::Under(Role::ToolCall),
                _ => Ctx::Other,
            },
            Ctx::Response => match key {
                "response" | "content" => Ctx::Free(Role::Tool),
                "name" => Ctx::Under(Role::Tool),
                _ => Ctx::Other,
            },
            Ctx::ToolDef => match key {
                "function" | "functionDeclarations" | "function_declarations" => Ctx::ToolDef,
                "name" | "description" | "title" => Ctx::Under(Role::ToolDefinition),
                "parameters"
                | "input_schema"
                | "inputSchema"
                | "parametersJsonSchema"
                | "parameters_json_schema"
                | "outputSchema"
                | "output_schema"
                | "response" => Ctx::Free(Role::ToolDefinition),
                _ => Ctx::Other,
            },
            Ctx::Params(method) => match (method, key) {
                (Method::ToolsCall, "arguments") => Ctx::Free(Role::ToolCall),
                (Method::ToolsCall, "name") => Ctx::Under(Role::ToolCall),
                (Method::PromptsGet, "arguments") => Ctx::Free(Role::User),
                (Method::Sampling, "messages") => Ctx::Msgs(Role::User),
                (Method::Sampling, "systemPrompt") => Ctx::Under(Role::System),
                _ => Ctx::Other,
            },
            Ctx::McpResult => match key {
                "content" => Ctx::Content {
                    role: Role::Tool,
                    json: true,
                },
                "structuredContent" => Ctx::Free(Role::Tool),
                "messages" => Ctx::Msgs(Role::User),
                "tools" => Ctx::ToolDef,
                "contents" => Ctx::Under(Role::Tool),
                _ => Ctx::Other,
            },
        }
    }
}

/// A message's role: its `role`, else what its Responses item `type` implies,
/// else the list's default.
fn message_role(m: &Value, default: Role) -> Role {
    if let Some(role) = m.get("role") {
        return role.as_str().map_or(Role::Other, map_role);
    }
    match m.get("type").and_then(Value::as_str) {
        Some(
            "function_call_output"
            | "custom_tool_call_output"
            | "computer_call_output"
            | "local_shell_call_output"
            | "mcp_approval_response",
        ) => Role::Tool,
        Some(
            "function_call" | "custom_tool_call" | "computer_call" | "local_shell_call"
            | "mcp_call",
        ) => Role::ToolCall,
        Some("reasoning") => Role::Assistant,
        _ => default,
    }
}

/// The role names of every supported API; unknown names are [`Role::Other`].
fn map_role(name: &str) -> Role {
    match name {
        "system" => Role::System,
        "developer" => Role::Developer,
        "user" => Role::User,
        "assistant" | "model" => Role::Assistant,
        "tool" | "function" => Role::Tool,
        _ => Role::Other,
    }
}

fn block_of(part: &Value) -> Block {
    match part.get("type").and_then(Value::as_str) {
        Some("tool_use" | "server_tool_use" | "mcp_tool_use") => Block::ToolUse,
        Some("tool_result" | "mcp_tool_result") => Block::ToolResult,
        _ => Block::Plain,
    }
}

fn method_of(message: &Value) -> Method {
    match message.get("method").and_then(Value::as_str) {
        Some("tools/call") => Method::ToolsCall,
        Some("prompts/get") => Method::PromptsGet,
        Some("sampling/createMessage") => Method::Sampling,
        _ => Method::Other,
    }
}

/// The scalar fields not emitted (see the module docs): identifiers, not prose.
fn is_skipped_scalar(key: &str, v: &Value) -> bool {
    let Value::String(s) = v else { return false };
    match key {
        "role" => map_role(s) != Role::Other,
        "model" | "type" | "id" | "tool_call_id" | "object" => {
            s.len() < 64
                && s.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'.' | b'_' | b':' | b'/' | b'@' | b'+' | b'-')
                })
        }
        _ => false,
    }
}

/// Collects segments while walking, and enforces the segment and text limits
/// as it goes (so a huge document stops early). The pointer is one buffer
/// grown and truncated along the walk; it is copied only into a segment.
struct Walker<'l> {
    limits: &'l Limits,
    opts: Options,
    segments: Vec<Segment>,
    text_bytes: usize,
    ptr: String,
}

impl<'l> Walker<'l> {
    fn new(limits: &'l Limits) -> Self {
        Walker {
            limits,
            opts: Options::from_limits(limits),
            segments: Vec::new(),
            text_bytes: 0,
            ptr: String::new(),
        }
    }

    fn emit(&mut self, role: Role, text: &str) -> Result<(), PayloadError> {
        if text.is_empty() {
            return Ok(());
        }
        if self.segments.len() >= self.limits.max_segments {
            return Err(PayloadError::TooManySegments {
                limit: self.limits.max_segments,
            });
        }
        self.text_bytes = self.text_bytes.saturating_add(text.len());
        if self.text_bytes > self.limits.max_text_bytes {
            return Err(PayloadError::TextTooLarge {
                limit: self.limits.max_text_bytes,
            });
        }
        self.segments.push(Segment {
            pointer: self.ptr.clone(),
            role,
            text: text.to_owned(),
        });
        Ok(())
    }

    /// Walks `v` (enclosed by `depth` containers) in document order. The
    /// recursion is bounded: the parser refused anything deeper than
    /// [`crate::limits::JSON_DEPTH_CEILING`].
    fn walk(&mut self, v: &Value, ctx: Ctx, depth: usize) -> Result<(), PayloadError> {
        match v {
            Value::String(s) if ctx.embedded_json() => self.embedded(s, ctx.role(), depth),
            Value::String(s) => self.emit(ctx.role(), s),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let mark = self.ptr.len();
                    push_index(&mut self.ptr, i);
                    let r = self.walk(item, ctx.element(item), depth + 1);
                    self.ptr.truncate(mark);
                    r?;
                }
                Ok(())
            }
            Value::Object(members) => {
                let ctx = ctx.object(v);
                let keys = ctx.keys_are_text();
                for (k, val) in members {
                    if !keys && is_skipped_scalar(k, val) {
                        continue;
                    }
                    let mark = self.ptr.len();
                    push_token(&mut self.ptr, k);
                    let mut r = if keys {
                        self.emit(ctx.role(), k)
                    } else {
                        Ok(())
                    };
                    if r.is_ok() {
                        r = self.walk(val, ctx.member(k, val), depth + 1);
                    }
                    self.ptr.truncate(mark);
                    r?;
                }
                Ok(())
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
        }
    }

    /// A string that may be a JSON document (tool-call arguments, MCP text).
    /// If it is an object or array, its strings and keys are emitted at
    /// `outer#inner`, and not the string itself; its depth counts from the
    /// outer document, and a duplicate key or too deep nesting in it is an
    /// error as in the outer document (the tool will parse it too).
    /// Otherwise the string is one segment, plus its `\u`-resolved reading
    /// if a lenient parser could decode some.
    fn embedded(&mut self, s: &str, role: Role, depth: usize) -> Result<(), PayloadError> {
        if matches!(s.bytes().find(|b| !is_ws(*b)), Some(b'{' | b'[')) {
            match json::parse_str(s, &self.opts, depth) {
                Ok(inner) => {
                    let mark = self.ptr.len();
                    self.ptr.push('#');
                    let r = self.walk(&inner, Ctx::Free(role), depth);
                    self.ptr.truncate(mark);
                    return r;
                }
                Err(json::Error::Syntax { .. } | json::Error::InvalidUtf8 { .. }) => {}
                Err(e) => return Err(json_error(e, &format!("{}#", self.ptr))),
            }
            self.emit(role, s)?;
            if let Some(unescaped) = resolve_unicode_escapes(s) {
                self.emit(role, &unescaped)?;
            }
            return Ok(());
        }
        self.emit(role, s)
    }
}

/// The text with its JSON `\uXXXX` escapes resolved (`\\` kept as an escaped
/// backslash, so `\\u0041` stays as written; a lone surrogate becomes
/// U+FFFD), or `None` if there is none: what a lenient parser would read.
fn resolve_unicode_escapes(s: &str) -> Option<String> {
    if !s.contains("\\u") {
        return None;
    }
    let b = s.as_bytes();
    let hex4 = |at: usize| -> Option<u32> {
        let digits = s.get(at..at + 4)?;
        if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    };
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut run = 0;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'\\' {
            i += 1;
            continue;
        }
        let unit = if b.get(i + 1) == Some(&b'u') {
            hex4(i + 2)
        } else {
            None
        };
        let Some(hi) = unit else {
            // Another escape (or a lone backslash): keep both bytes as written.
            i += if b.get(i + 1).is_some_and(u8::is_ascii) {
                2
            } else {
                1
            };
            continue;
        };
        out.push_str(s.get(run..i).unwrap_or_default());
        let mut end = i + 6;
        let cp = if (0xD800..0xDC00).contains(&hi) && s.get(end..end + 2) == Some("\\u") {
            match hex4(end + 2) {
                Some(lo @ 0xDC00..=0xDFFF) => {
                    end += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                }
                _ => hi,
            }
        } else {
            hi
        };
        out.push(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER));
        changed = true;
        i = end;
        run = end;
    }
    out.push_str(s.get(run..).unwrap_or_default());
    changed.then_some(out)
}
