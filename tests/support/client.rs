//! Clients: curl for HTTP/1.1 and h2c, nghttp for HTTP/2 with request
//! trailers (curl cannot send those), and a raw socket for chunked uploads
//! with pauses between the chunks.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// A response as a client saw it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `1.1` or `2`.
    pub http_version: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {}", self.text()))
    }
}

static FILES: AtomicUsize = AtomicUsize::new(0);

fn scratch(ext: &str) -> PathBuf {
    let n = FILES.fetch_add(1, Ordering::SeqCst);
    super::envoy::scratch_root().join(format!("client-{n}.{ext}"))
}

/// `POST` with curl: `body` sent byte for byte, `extra` curl arguments
/// (`--http2-prior-knowledge`...).
pub fn curl_post(url: &str, headers: &[(&str, &str)], body: &[u8], extra: &[&str]) -> Reply {
    let body_file = scratch("req");
    fs::write(&body_file, body).expect("write the request body");
    let mut args: Vec<String> = vec!["--data-binary".into(), format!("@{}", body_file.display())];
    for (n, v) in headers {
        args.push("-H".into());
        args.push(format!("{n}: {v}"));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let reply = curl(url, &args);
    let _ = fs::remove_file(body_file);
    reply
}

/// Runs curl; panics (with its stderr) when it cannot get a response.
pub fn curl(url: &str, args: &[String]) -> Reply {
    let (head_file, body_file) = (scratch("head"), scratch("body"));
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "30",
            "-H",
            "Expect:",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .arg("-D")
        .arg(&head_file)
        .arg("-o")
        .arg(&body_file)
        .args(args)
        .arg(url)
        .output()
        .expect("run curl (is it installed? make tools)");
    let written = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut w = written.split_whitespace();
    let status: u16 = w.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let http_version = w.next().unwrap_or("").to_string();
    assert!(
        status != 0,
        "curl got no response from {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = fs::read_to_string(&head_file).unwrap_or_default();
    let body = fs::read(&body_file).unwrap_or_default();
    let _ = fs::remove_file(head_file);
    let _ = fs::remove_file(body_file);
    // The last header block (a 100 Continue may come first).
    let block = head.trim_end().rsplit("\r\n\r\n").next().unwrap_or("");
    Reply {
        status,
        headers: parse_headers(block),
        body,
        http_version,
    }
}

fn parse_headers(block: &str) -> Vec<(String, String)> {
    block
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

/// An HTTP/2 (h2c, prior knowledge) `POST` whose body ends with trailers,
/// sent by nghttp. Returns the status, response headers and body.
pub fn nghttp_post_with_trailers(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    trailers: &[(&str, &str)],
) -> Reply {
    let body_file = scratch("req");
    fs::write(&body_file, body).expect("write the request body");
    let mut cmd = Command::new("nghttp");
    cmd.args(["-v", "--timeout", "30"])
        .arg("-d")
        .arg(&body_file);
    for (n, v) in headers {
        cmd.arg("-H").arg(format!("{n}: {v}"));
    }
    for (n, v) in trailers {
        cmd.arg("--trailer").arg(format!("{n}: {v}"));
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("run nghttp (nghttp2-client; make tools installs it)");
    let _ = fs::remove_file(body_file);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("send HEADERS frame") && stdout.matches("send HEADERS frame").count() >= 2,
        "nghttp did not send trailers:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `-v` prints received header fields as "recv (stream_id=N) name: value";
    // the body is printed raw between the frame lines.
    let mut status = 0;
    let mut got = Vec::new();
    let mut body = String::new();
    for line in stdout.lines() {
        if let Some(rest) = line
            .split_once(") ")
            .filter(|_| line.contains("] recv (stream_id="))
            .map(|(_, r)| r)
        {
            if let Some(s) = rest.strip_prefix(":status: ") {
                status = s.trim().parse().unwrap_or(0);
            } else if let Some((n, v)) = rest.split_once(": ") {
                got.push((n.to_string(), v.to_string()));
            }
        } else if let Some(at) = line.find("[  ").or_else(|| line.find("[ ")) {
            // Body text directly followed by the next frame line.
            if line.trim_start().starts_with('{') {
                body.push_str(&line[..at]);
            }
        } else if line.trim_start().starts_with('{') {
            body.push_str(line);
        }
    }
    assert!(
        status != 0,
        "nghttp got no response:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Reply {
        status,
        headers: got,
        body: body.into_bytes(),
        http_version: "2".into(),
    }
}

/// An HTTP/1.1 request written by hand: headers first, then chunks of a
/// `Transfer-Encoding: chunked` body, one `write` each, when the test says.
pub struct RawRequest {
    stream: TcpStream,
    broken: bool,
}

impl RawRequest {
    /// Sends the request line and headers (plus `Transfer-Encoding: chunked`
    /// unless a `content-length` is given) and nothing else.
    pub fn start(port: u16, path: &str, headers: &[(&str, &str)]) -> RawRequest {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to Envoy");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let mut head = format!("POST {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n");
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            head.push_str("transfer-encoding: chunked\r\n");
        }
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("send the headers");
        RawRequest {
            stream,
            broken: false,
        }
    }

    /// Sends one chunk. Write errors (Envoy already answered and closed) are kept, not raised.
    pub fn chunk(&mut self, data: &[u8]) -> &mut Self {
        let mut frame = format!("{:x}\r\n", data.len()).into_bytes();
        frame.extend_from_slice(data);
        frame.extend_from_slice(b"\r\n");
        self.write(&frame);
        self
    }

    pub fn pause(&mut self, ms: u64) -> &mut Self {
        thread::sleep(Duration::from_millis(ms));
        self
    }

    fn write(&mut self, bytes: &[u8]) {
        if !self.broken
            && self
                .stream
                .write_all(bytes)
                .and_then(|_| self.stream.flush())
                .is_err()
        {
            self.broken = true;
        }
    }

    /// Ends the body (last chunk) and reads the response.
    pub fn finish(mut self) -> Reply {
        self.write(b"0\r\n\r\n");
        self.response()
    }

    /// Reads the response without sending anything more.
    pub fn response(mut self) -> Reply {
        let mut raw = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    if complete(&raw) {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // A reset after the response was sent still leaves the response.
                Err(_) => break,
            }
        }
        parse_response(&raw)
            .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(&raw)))
    }
}

fn split_head(raw: &[u8]) -> Option<(String, &[u8])> {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((
        String::from_utf8_lossy(&raw[..at]).into_owned(),
        &raw[at + 4..],
    ))
}

fn complete(raw: &[u8]) -> bool {
    let Some((head, body)) = split_head(raw) else {
        return false;
    };
    let headers = parse_headers(&head);
    match headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        Some(len) => body.len() >= len,
        None => false,
    }
}

fn parse_response(raw: &[u8]) -> Option<Reply> {
    let (head, body) = split_head(raw)?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let headers = parse_headers(&head);
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let body = match len {
        Some(len) => body.get(..len).unwrap_or(body).to_vec(),
        None => body.to_vec(),
    };
    Some(Reply {
        status,
        headers,
        body,
        http_version: "1.1".into(),
    })
}
