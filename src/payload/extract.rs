//! Placeholder: replaced by the payload implementation.
use super::{ApiKind, Payload, PayloadError, Role, Segment};
use crate::limits::Limits;
use crate::request::Request;

/// Extracts every text segment of a request.
pub fn extract(req: &Request<'_>, limits: &Limits) -> Result<Payload, PayloadError> {
    if req.body.len() > limits.max_body_bytes {
        return Err(PayloadError::BodyTooLarge { limit: limits.max_body_bytes, actual: req.body.len() });
    }
    let text = std::str::from_utf8(req.body).map_err(|e| PayloadError::InvalidUtf8 { offset: e.valid_up_to() })?;
    Ok(Payload {
        api: ApiKind::PlainText,
        segments: vec![Segment { pointer: String::new(), role: Role::User, text: text.to_string() }],
        document: None,
        message_count: 0,
    })
}

/// Guesses the API from the path alone (for error bodies when extraction failed).
pub fn api_from_path(path: &str) -> Option<ApiKind> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    if path.ends_with("/chat/completions") {
        Some(ApiKind::OpenAiChat)
    } else if path.ends_with("/messages") {
        Some(ApiKind::AnthropicMessages)
    } else {
        None
    }
}
