//! The real `optout serve` binary for integration tests: started on `127.0.0.1:0` with a
//! store in a temp dir, its address read from the line it prints when ready, stopped with
//! SIGTERM.
//!
//! Used through `#[path = "support/serve.rs"] mod serve;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};

/// The binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_optout")
}

/// A running service.
pub struct Service {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its store.
    pub store: PathBuf,
}

impl Service {
    /// `optout --store STORE --allow-private-addresses serve --listen 127.0.0.1:0 ARGS...`
    /// with `env` set; waits for its address line.
    pub fn start(store: &Path, args: &[&str], env: &[(&str, &str)]) -> Service {
        Service::start_configured(store, None, args, env)
    }

    /// [`Service::start`] with `--config CONFIG`.
    pub fn start_with_config(
        store: &Path,
        config: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Service {
        Service::start_configured(store, Some(config), args, env)
    }

    fn start_configured(
        store: &Path,
        config: Option<&str>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Service {
        let mut command = Command::new(bin());
        if let Some(config) = config {
            command.args(["--config", config]);
        }
        command
            .arg("--store")
            .arg(store)
            .arg("--allow-private-addresses")
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("OPTOUT_SERVE_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start optout serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no address line: {line:?}"))
            .to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Service {
            child: Some(child),
            base,
            store: store.to_owned(),
        }
    }

    /// `base` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> ExitStatus {
        self.terminate();
        self.child.take().unwrap().wait().unwrap()
    }

    /// Waits for the exit (after [`Service::terminate`]).
    pub fn wait(mut self) -> ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the binary with `args` to its end.
pub fn optout(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("OPTOUT_SERVE_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A JSON value without its `seq` (fields at any depth of an object at the top).
pub fn without_seq(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("seq");
    }
    value
}

/// An HTTP client for the tests (no proxy from the environment).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// POSTs `body` as JSON; returns status, headers and body.
pub async fn post(
    url: &str,
    body: &serde_json::Value,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// GETs `url`; returns status, headers and body.
pub async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// The `{"error": {"code"}}` of an error answer, checking its shape.
pub fn error_code(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> String {
    assert!(status >= 400, "{status}");
    assert_eq!(
        headers.get("content-type").unwrap(),
        "application/json",
        "{status} {}",
        String::from_utf8_lossy(body)
    );
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    let message = value["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty() && !message.contains('\n'), "{message}");
    value["error"]["code"].as_str().unwrap().to_owned()
}
