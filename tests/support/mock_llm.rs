//! A scripted model provider on 127.0.0.1 for tests: it answers each request with the
//! next scripted reply (JSON with a status and headers, a body cut off mid-way, a reply
//! after a delay, a non-JSON body) and records every request it received.

#![allow(dead_code)] // each test binary uses a different part of it

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub enum Reply {
    /// A status, extra headers, and a body.
    Json(u16, Vec<(String, String)>, String),
    /// A body shorter than its Content-Length: the connection closes mid-way.
    Truncated(String),
    /// A reply after a pause (past the client's timeout, in the timeout tests).
    Slow(Duration, Box<Reply>),
    /// A status, a Content-Length header if given (whatever it claims), then `bytes`
    /// bytes of a JSON-looking body streamed until done or the client hangs up.
    Huge {
        status: u16,
        content_length: Option<u64>,
        bytes: u64,
    },
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply::Json(200, vec![], body.to_string())
    }

    pub fn status(status: u16, body: &str) -> Reply {
        Reply::Json(status, vec![], body.to_string())
    }

    pub fn retry_after(status: u16, seconds: &str) -> Reply {
        Reply::Json(
            status,
            vec![("Retry-After".into(), seconds.into())],
            r#"{"error": "slow down"}"#.into(),
        )
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers a request from what it holds (a model whose answer depends on the prompt).
pub type Responder = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

/// Where replies come from.
#[derive(Clone)]
enum Replies {
    /// In order; the last repeats.
    Script(Arc<Mutex<(Vec<Reply>, usize)>>),
    Respond(Responder),
}

pub struct Mock {
    pub base_url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Requests answered 429 because they went over the mock's own limit.
    pub rejected: Arc<Mutex<usize>>,
}

impl Mock {
    /// Starts the server; `script` is consumed in order, the last reply repeats.
    pub async fn start(script: Vec<Reply>) -> Mock {
        Mock::start_limited(script, None).await
    }

    /// As `start`, and like a provider it answers 429 to a request that would make more
    /// than `limit.0` requests in the trailing `limit.1`.
    pub async fn start_limited(script: Vec<Reply>, limit: Option<(usize, Duration)>) -> Mock {
        Mock::serve(Replies::Script(Arc::new(Mutex::new((script, 0)))), limit).await
    }

    /// Answers each request with `respond(request)`.
    pub async fn start_with(respond: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Mock {
        Mock::serve(Replies::Respond(Arc::new(respond)), None).await
    }

    /// As `start_with`, on a given port of 127.0.0.1 (a server other processes use).
    pub async fn start_on(
        port: u16,
        respond: impl Fn(&Received) -> Reply + Send + Sync + 'static,
    ) -> Mock {
        Mock::serve_on(port, Replies::Respond(Arc::new(respond)), None).await
    }

    async fn serve(replies: Replies, limit: Option<(usize, Duration)>) -> Mock {
        Mock::serve_on(0, replies, limit).await
    }

    async fn serve_on(port: u16, replies: Replies, limit: Option<(usize, Duration)>) -> Mock {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind 127.0.0.1");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let rejected = Arc::new(Mutex::new(0usize));
        let script = replies;
        let log = received.clone();
        let refused = rejected.clone();
        let window: Arc<Mutex<std::collections::VecDeque<Instant>>> = Arc::default();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let script = script.clone();
                let refused = refused.clone();
                let window = window.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    if let Some((most, period)) = limit {
                        let over = {
                            let mut w = window.lock().unwrap();
                            while w
                                .front()
                                .is_some_and(|t| request.at.duration_since(*t) >= period)
                            {
                                w.pop_front();
                            }
                            w.push_back(request.at);
                            w.len() > most
                        };
                        if over {
                            *refused.lock().unwrap() += 1;
                            log.lock().unwrap().push(request);
                            write_reply(&mut socket, Reply::retry_after(429, "1")).await;
                            return;
                        }
                    }
                    let reply = match &script {
                        Replies::Script(script) => {
                            let mut s = script.lock().unwrap();
                            let i = s.1.min(s.0.len() - 1);
                            s.1 += 1;
                            s.0[i].clone()
                        }
                        Replies::Respond(respond) => respond(&request),
                    };
                    log.lock().unwrap().push(request);
                    write_reply(&mut socket, reply).await;
                });
            }
        });
        Mock {
            base_url,
            received,
            rejected,
        }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.lines();
    let path = lines.next()?.split_whitespace().nth(1)?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
    })
}

async fn write_reply(socket: &mut tokio::net::TcpStream, reply: Reply) {
    match reply {
        Reply::Slow(pause, inner) => {
            tokio::time::sleep(pause).await;
            Box::pin(write_reply(socket, *inner)).await;
        }
        Reply::Json(status, headers, body) => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (n, v) in headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
        }
        Reply::Huge {
            status,
            content_length,
            bytes,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nConnection: close\r\n"
            );
            if let Some(n) = content_length {
                head.push_str(&format!("Content-Length: {n}\r\n"));
            }
            head.push_str("\r\n");
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let mut left = bytes;
            let start = b"{\"choices\": [{\"message\": {\"content\": \"";
            let _ = socket.write_all(start).await;
            left = left.saturating_sub(start.len() as u64);
            let chunk = vec![b'a'; 64 * 1024];
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                if socket.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
                left -= n as u64;
            }
        }
        Reply::Truncated(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len() + 100
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
        }
    }
    let _ = socket.shutdown().await;
}
