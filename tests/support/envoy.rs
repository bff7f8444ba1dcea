//! Runs the real Envoy with the release wasm, configured from the shipped
//! `envoy/envoy.yaml` with free ports, a plugin configuration, and log files.
//!
//! `INFW_ENVOY` names the Envoy binary and `INFW_WASM` the plugin; `make e2e`
//! sets both. Missing either is a test failure, never a skip.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const HOW: &str = "run `make e2e`: it installs Envoy into .venv, builds the release wasm and sets INFW_ENVOY and INFW_WASM";

/// How long Envoy may take to compile the plugin and become ready (2 shared cores).
const READY_WITHIN: Duration = Duration::from_secs(90);

fn required_file(var: &str) -> PathBuf {
    let value = std::env::var_os(var).unwrap_or_else(|| panic!("{var} is not set: {HOW}"));
    let path = PathBuf::from(value);
    assert!(
        path.is_file(),
        "{var}={} is not a file: {HOW}",
        path.display()
    );
    path
}

pub fn envoy_binary() -> PathBuf {
    required_file("INFW_ENVOY")
}

pub fn wasm_path() -> PathBuf {
    let p = required_file("INFW_WASM");
    fs::canonicalize(&p).unwrap_or(p)
}

/// The directory for this run's configs, logs and client files. The previous
/// run's is removed first; this run's stays for inspection.
pub fn scratch_root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("envoy-e2e");
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("create the e2e scratch directory");
        root
    })
    .clone()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Replaces the value of each line of `template` marked `# @name`.
pub fn render(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 4096);
    let mut seen: Vec<&str> = Vec::new();
    for line in template.lines() {
        let marked = line.rfind(" # @").and_then(|at| {
            let name = line[at + 4..].trim();
            let (key_end, _) = line[..at].match_indices(": ").next()?;
            let (_, value) = values.iter().find(|(n, _)| *n == name)?;
            seen.push(name);
            Some(format!("{}{}{}", &line[..key_end + 2], value, &line[at..]))
        });
        out.push_str(&marked.unwrap_or_else(|| line.to_string()));
        out.push('\n');
    }
    for (name, _) in values {
        assert!(
            seen.contains(name),
            "envoy/envoy.yaml has no line marked @{name}"
        );
    }
    out
}

/// A running Envoy, killed on drop (and, for those kept in statics, when the
/// test process exits: a watchdog shell polls the test's pid).
pub struct Envoy {
    child: Mutex<Child>,
    pub port: u16,
    pub admin_port: u16,
    pub dir: PathBuf,
    pub log_path: PathBuf,
    pub access_log_path: PathBuf,
}

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

impl Envoy {
    /// Starts Envoy in front of `upstream_port` with this plugin configuration
    /// and waits until it is ready; panics with Envoy's log otherwise.
    pub fn start(name: &str, plugin_config: &str, upstream_port: u16) -> Envoy {
        match Envoy::try_start(name, plugin_config, upstream_port) {
            Ok(e) => e,
            Err(log) => panic!("Envoy ({name}) did not become ready; its log:\n{log}"),
        }
    }

    /// Starts Envoy; `Err` holds its log when it exits or is not ready in time.
    pub fn try_start(name: &str, plugin_config: &str, upstream_port: u16) -> Result<Envoy, String> {
        Envoy::try_start_edited(name, plugin_config, upstream_port, |yaml| yaml)
    }

    /// Like [`Envoy::try_start`], with a last edit of the rendered config.
    pub fn try_start_edited(
        name: &str,
        plugin_config: &str,
        upstream_port: u16,
        edit: impl FnOnce(String) -> String,
    ) -> Result<Envoy, String> {
        let envoy = envoy_binary();
        let wasm = wasm_path();
        let n = INSTANCES.fetch_add(1, Ordering::SeqCst);
        let dir = scratch_root().join(format!("{name}-{n}"));
        fs::create_dir_all(&dir).expect("create the test directory");
        let (admin_port, port, mock_port) = (free_port(), free_port(), free_port());
        let log_path = dir.join("envoy.log");
        let access_log_path = dir.join("access.log");

        let template_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("envoy/envoy.yaml");
        let template = fs::read_to_string(&template_path).expect("read envoy/envoy.yaml");
        let config = render(
            &template,
            &[
                ("admin-port", admin_port.to_string()),
                ("listen-address", "127.0.0.1".to_string()),
                ("listener-port", port.to_string()),
                ("mock-port", mock_port.to_string()),
                ("upstream-port", upstream_port.to_string()),
                ("access-log-path", access_log_path.display().to_string()),
                ("wasm", wasm.display().to_string()),
                (
                    "plugin-configuration",
                    serde_json::to_string(plugin_config).expect("a JSON string"),
                ),
            ],
        );
        let config = edit(config);
        let config_path = dir.join("envoy.yaml");
        fs::write(&config_path, config).expect("write the Envoy config");

        let log = File::create(&log_path).expect("create the Envoy log");
        let child = Command::new(&envoy)
            .arg("-c")
            .arg(&config_path)
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "--file-flush-interval-msec",
                "100",
            ])
            .args(["--log-level", "info"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", envoy.display()));
        // Kills Envoy if this test process dies first (statics are never dropped).
        let _ = Command::new("sh")
            .args([
                "-c",
                "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; kill \"$2\" 2>/dev/null",
                "watchdog",
            ])
            .arg(std::process::id().to_string())
            .arg(child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();

        let envoy = Envoy {
            child: Mutex::new(child),
            port,
            admin_port,
            dir,
            log_path,
            access_log_path,
        };
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = envoy.child.lock().expect("child").try_wait() {
                return Err(format!("(Envoy exited: {status})\n{}", envoy.log()));
            }
            if envoy
                .admin_get("/ready")
                .is_some_and(|(s, b)| s == 200 && b.trim() == "LIVE")
                && TcpStream::connect(("127.0.0.1", port)).is_ok()
            {
                return Ok(envoy);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "(not ready within {READY_WITHIN:?})\n{}",
                    envoy.log()
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Envoy's own log (stderr and stdout).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits (up to 10 s) for a line of Envoy's log containing every needle.
    pub fn log_line_with(&self, needles: &[&str]) -> Option<String> {
        wait_for_line(&self.log_path, needles)
    }

    /// Waits (up to 10 s) for an access-log line containing every needle.
    pub fn access_log_line_with(&self, needles: &[&str]) -> Option<String> {
        wait_for_line(&self.access_log_path, needles)
    }

    /// `GET` on the admin port: status and body.
    pub fn admin_get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.admin_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n"
        )
        .ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        Some((status, body))
    }

    /// The Prometheus exposition of `/stats/prometheus`.
    pub fn prometheus(&self) -> String {
        match self.admin_get("/stats/prometheus") {
            Some((200, body)) => body,
            other => panic!("/stats/prometheus failed: {other:?}"),
        }
    }

    /// The value of one Prometheus sample, e.g. `inference_firewall_requests_total{decision="block"}`.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        metric_in(&self.prometheus(), sample)
    }
}

pub fn metric_in(exposition: &str, sample: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        l.strip_prefix(sample)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

impl Drop for Envoy {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for_line(path: &Path, needles: &[&str]) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            return Some(line.to_string());
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
    }
    out
}
