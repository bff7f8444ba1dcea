//! A recording HTTP/1.1 upstream: answers every request 200 with a chat
//! completion and keeps what it received, headers first (as soon as they
//! arrive, before any body) and then the whole request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The body every proxied request gets back.
pub const UPSTREAM_REPLY: &str = r#"{"id":"chatcmpl-upstream","object":"chat.completion","created":1700000000,"model":"upstream-model","choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}]}"#;

/// One request as the upstream read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, chunked encoding removed.
    pub body: Vec<u8>,
    /// Whether it came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Default)]
struct Log {
    /// Header blocks, recorded before the body is read.
    heads: Vec<Vec<(String, String)>>,
    requests: Vec<Recorded>,
}

/// The upstream; its threads live as long as the test process.
pub struct Upstream {
    pub port: u16,
    log: Arc<Mutex<Log>>,
}

impl Upstream {
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the recording upstream");
        let port = listener.local_addr().expect("upstream address").port();
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = Arc::clone(&log);
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let log = Arc::clone(&shared);
                thread::spawn(move || serve(conn, &log));
            }
        });
        Upstream { port, log }
    }

    /// Complete requests carrying `header: value`.
    pub fn requests_with(&self, header: &str, value: &str) -> Vec<Recorded> {
        let log = self.log.lock().expect("upstream log");
        log.requests
            .iter()
            .filter(|r| r.header(header) == Some(value))
            .cloned()
            .collect()
    }

    /// The one complete request carrying `header: value`; panics otherwise.
    pub fn the_request_with(&self, header: &str, value: &str) -> Recorded {
        let mut found = self.requests_with(header, value);
        assert_eq!(
            found.len(),
            1,
            "expected the upstream to receive exactly one request with {header}: {value}, got {}",
            found.len()
        );
        found.remove(0)
    }

    /// Whether any header block carrying `header: value` reached the upstream,
    /// even one whose body never arrived.
    pub fn saw_headers_with(&self, header: &str, value: &str) -> bool {
        let log = self.log.lock().expect("upstream log");
        log.heads
            .iter()
            .any(|h| h.iter().any(|(n, v)| n == header && v == value))
    }
}

fn serve(conn: TcpStream, log: &Mutex<Log>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            match reader.read_line(&mut h) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        log.lock()
            .expect("upstream log")
            .heads
            .push(headers.clone());

        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let chunked = get("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let body = if chunked {
            match read_chunked(&mut reader) {
                Some(b) => b,
                None => return,
            }
        } else {
            let len = get("content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut b = vec![0; len];
            if reader.read_exact(&mut b).is_err() {
                return;
            }
            b
        };
        log.lock().expect("upstream log").requests.push(Recorded {
            method,
            path,
            headers,
            body,
            chunked,
        });

        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{UPSTREAM_REPLY}",
            UPSTREAM_REPLY.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).ok()? == 0 {
            return None;
        }
        let size = size.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(size, 16).ok()?;
        if n == 0 {
            // Trailers, then the empty line.
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t).ok()? == 0 || t.trim_end().is_empty() {
                    return Some(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + n, 0);
        reader.read_exact(&mut body[start..]).ok()?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf).ok()?;
    }
}
