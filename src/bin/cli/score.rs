//! `infw score`: one request, its decision and why.

use super::{chat_request, load_engine, read_input, Fatal};
use inference_firewall::{Action, Request};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule file (default: the embedded default pack).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Request body file, or - for stdin. Omit with --text.
    body: Option<PathBuf>,
    /// Score this text as the user message of an OpenAI chat request.
    #[arg(long, conflicts_with = "body")]
    text: Option<String>,
    /// Request path (selects the API).
    #[arg(long, default_value = "/v1/chat/completions")]
    path: String,
    /// Content-Type header.
    #[arg(long, default_value = "application/json")]
    content_type: String,
    /// Content-Encoding header.
    #[arg(long)]
    content_encoding: Option<String>,
    /// HTTP method.
    #[arg(long, default_value = "POST")]
    method: String,
    /// Print one JSON object instead of an explanation.
    #[arg(long)]
    json: bool,
    /// Exit 1 when the request would be blocked.
    #[arg(long)]
    fail_on_block: bool,
}

pub fn run(args: Args) -> Result<u8, Fatal> {
    let engine = load_engine(args.rules.as_deref())?;
    let body = match (&args.text, &args.body) {
        (Some(t), _) => chat_request(t),
        (None, Some(p)) => read_input(p)?,
        (None, None) => return Err(Fatal("give a BODY file (or - for stdin), or --text".into())),
    };
    let req = Request {
        method: &args.method,
        path: &args.path,
        content_type: Some(&args.content_type),
        content_encoding: args.content_encoding.as_deref(),
        body: &body,
    };
    let ev = engine.evaluate_detailed(&req);
    let v = &ev.verdict;
    if args.json {
        let hits: Vec<_> = v
            .hits
            .iter()
            .map(|h| {
                serde_json::json!({
                    "rule_id": h.rule_id, "category": h.category, "score": h.score,
                    "pointer": h.pointer, "role": h.role.as_str(), "span": h.span,
                })
            })
            .collect();
        let (status, code, message) = match &v.would {
            Action::Block {
                status,
                code,
                message,
            } => (Some(*status), Some(*code), Some(message.clone())),
            _ => (None, None, None),
        };
        let out = serde_json::json!({
            "decision": v.action.name(), "would": v.would.name(), "score": v.score,
            "status": status, "code": code, "message": message,
            "api": v.api.map(|a| a.as_str()), "segments": v.segments, "hits": hits,
        });
        outln!("{out}");
    } else {
        explain(&engine, &ev);
    }
    Ok(
        if args.fail_on_block && matches!(v.would, Action::Block { .. }) {
            1
        } else {
            0
        },
    )
}

fn explain(engine: &inference_firewall::Engine, ev: &inference_firewall::engine::Evaluation) {
    let color = std::io::stdout().is_terminal();
    let v = &ev.verdict;
    let p = engine.policy();
    outln!("decision: {v}");
    if let Action::Block {
        status,
        code,
        message,
    } = &v.would
    {
        outln!("  status {status} ({code}): {message}");
    }
    outln!(
        "  thresholds: flag_at {}, block_at {}; mode {}, paranoia {}",
        p.flag_at,
        p.block_at,
        format!("{:?}", p.mode).to_lowercase(),
        p.paranoia
    );
    if let Some(api) = v.api {
        outln!("  api: {api}, {} segments", v.segments);
    }
    for h in &v.hits {
        outln!(
            "  +{:<3} {} ({}) at {:?} [{}]",
            h.score,
            h.rule_id,
            h.category,
            h.pointer,
            h.role
        );
        if let Some(rule) = p.rules.iter().find(|r| r.id == h.rule_id) {
            outln!("       {}", rule.description);
        }
        if let (Some((s, e)), Some(view)) = (h.span, view_of(ev, &h.pointer)) {
            outln!("       {}", highlight(view, s, e, color));
        }
    }
}

/// The detection view a hit's pointer refers to.
fn view_of<'a>(ev: &'a inference_firewall::engine::Evaluation, pointer: &str) -> Option<&'a str> {
    let payload = ev.payload.as_ref()?;
    let (seg_ptr, decoded) = match pointer.rsplit_once('#') {
        Some((a, b)) if !b.starts_with('/') => (a, Some(b)),
        _ => (pointer, None),
    };
    let i = payload.segments.iter().position(|s| s.pointer == seg_ptr)?;
    let n = ev.normalized.get(i)?;
    match decoded {
        None => Some(&n.view),
        Some(kind) => n
            .decoded
            .iter()
            .find(|d| d.kind.as_str() == kind)
            .map(|d| d.view.as_str()),
    }
}

/// The match with some context, marked with colour or with brackets.
fn highlight(view: &str, start: usize, end: usize, color: bool) -> String {
    let floor = |mut i: usize| {
        while i > 0 && !view.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (s, e) = (floor(start.min(view.len())), floor(end.min(view.len())));
    let a = floor(s.saturating_sub(40));
    let b = floor((e + 40).min(view.len()));
    let (pre, mid, post) = (&view[a..s], &view[s..e], &view[e..b]);
    let (open, close) = if color {
        ("\x1b[1;31m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    format!(
        "{}{pre}{open}{mid}{close}{post}{}",
        if a > 0 { "..." } else { "" },
        if b < view.len() { "..." } else { "" }
    )
}
