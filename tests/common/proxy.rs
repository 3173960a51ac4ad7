//! A fault-injecting HTTP proxy for loopback tests: each request gets the fault its number maps
//! to (a 500, a 429, a dropped connection, a slow answer) or is passed to the real server.
//! One request per connection (`Connection: close` both ways) keeps it simple.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// An error answer with this status (429 comes with `Retry-After: 0`).
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Wait, then pass.
    Slow(Duration),
    /// An error answer with this status whose body echoes the request's head, headers included
    /// (as some servers do).
    EchoHead(u16),
}

pub struct FaultProxy {
    pub port: u16,
    /// The fault applied to each request, in arrival order.
    pub applied: Arc<Mutex<Vec<Fault>>>,
    /// The request line of each request (`POST /v1/completions HTTP/1.1`), in arrival order.
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    pub fn start(upstream: u16, plan: impl Fn(usize) -> Fault + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let applied = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let plan = Arc::new(plan);
        let counter = Arc::new(AtomicUsize::new(0));
        {
            let (applied, requests, stop) = (applied.clone(), requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (plan, counter) = (plan.clone(), counter.clone());
                    let (applied, requests) = (applied.clone(), requests.clone());
                    std::thread::spawn(move || {
                        let _ = serve(stream, upstream, &*plan, &counter, (&applied, &requests));
                    });
                }
            });
        }
        FaultProxy {
            port,
            applied,
            requests,
            stop,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn applied(&self) -> Vec<Fault> {
        self.applied.lock().unwrap().clone()
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one HTTP message head (up to the blank line) and its Content-Length body.
fn read_message(
    reader: &mut impl BufRead,
    to_end: bool,
) -> std::io::Result<(Vec<String>, Vec<u8>)> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let length = head.iter().find_map(|h| {
        let (name, value) = h.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        }
        None if to_end => {
            reader.read_to_end(&mut body)?;
        }
        None => {}
    }
    Ok((head, body))
}

/// The message again, with `Connection: close` and the body's real length.
fn rewrite(head: &[String], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, line) in head.iter().enumerate() {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if index > 0
            && matches!(
                name.as_str(),
                "connection" | "content-length" | "transfer-encoding" | "keep-alive"
            )
        {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}

/// An answer with `status`, JSON `body` and any `extra_headers` (each ending in CRLF).
fn respond(
    client: &mut TcpStream,
    status: u16,
    extra_headers: &str,
    body: &str,
) -> std::io::Result<()> {
    write!(
        client,
        "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn serve(
    client: TcpStream,
    upstream: u16,
    plan: &(dyn Fn(usize) -> Fault + Send + Sync),
    counter: &AtomicUsize,
    (applied, requests): (&Mutex<Vec<Fault>>, &Mutex<Vec<String>>),
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let (head, body) = read_message(&mut reader, false)?;
    if head.is_empty() {
        return Ok(());
    }
    let fault = plan(counter.fetch_add(1, Ordering::SeqCst));
    applied.lock().unwrap().push(fault);
    requests.lock().unwrap().push(head[0].clone());
    let mut client = client;
    match fault {
        Fault::Drop => {
            client.shutdown(std::net::Shutdown::Both)?;
            Ok(())
        }
        Fault::Status(status) => {
            let body = format!("{{\"error\": {{\"message\": \"injected {status}\"}}}}");
            let retry_after = if status == 429 {
                "Retry-After: 0\r\n"
            } else {
                ""
            };
            respond(&mut client, status, retry_after, &body)
        }
        Fault::EchoHead(status) => {
            let body =
                serde_json::json!({ "error": { "message": "bad request", "request": head } });
            respond(&mut client, status, "", &body.to_string())
        }
        Fault::Slow(_) | Fault::Pass => {
            if let Fault::Slow(delay) = fault {
                std::thread::sleep(delay);
            }
            let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
            server.write_all(&rewrite(&head, &body))?;
            let mut server_reader = BufReader::new(server);
            let (response_head, response_body) = read_message(&mut server_reader, true)?;
            client.write_all(&rewrite(&response_head, &response_body))
        }
    }
}

/// A loopback server that answers each request with what `answer(path, body)` gives (status,
/// JSON text): the documented protocol of an engine that cannot be installed here.
pub struct ScriptedServer {
    pub port: u16,
    /// Each request's path and JSON body, in arrival order.
    pub requests: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    stop: Arc<AtomicBool>,
}

impl ScriptedServer {
    pub fn start(
        answer: impl Fn(&str, &serde_json::Value) -> (u16, String) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let answer = Arc::new(answer);
        {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let (answer, requests) = (answer.clone(), requests.clone());
                    std::thread::spawn(move || -> std::io::Result<()> {
                        let mut reader = BufReader::new(stream.try_clone()?);
                        let (head, body) = read_message(&mut reader, false)?;
                        let Some(path) = head.first().and_then(|l| l.split(' ').nth(1)) else {
                            return Ok(());
                        };
                        let body: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        requests
                            .lock()
                            .unwrap()
                            .push((path.to_owned(), body.clone()));
                        let (status, text) = answer(path, &body);
                        let retry_after = if status == 429 {
                            "Retry-After: 0\r\n"
                        } else {
                            ""
                        };
                        respond(&mut stream, status, retry_after, &text)
                    });
                }
            });
        }
        ScriptedServer {
            port,
            requests,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<(String, serde_json::Value)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
