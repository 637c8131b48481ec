//! A stand-in intelligence service whose health the test switches live:
//! answering (with the real analyzer), failing with a status, or hanging.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archon_tui::backends::intelligence::{analyzer, ProcessRequest};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Status(u16),
    Hang,
}

pub struct Service {
    mode: Mutex<Mode>,
    pub calls: AtomicU64,
}

impl Service {
    pub fn set(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }
}

async fn process(State(s): State<Arc<Service>>, Json(req): Json<ProcessRequest>) -> Response {
    s.calls.fetch_add(1, Ordering::SeqCst);
    let mode = *s.mode.lock().unwrap();
    match mode {
        Mode::Ok => Json(analyzer::analyze(&req.content, req.language.as_deref())).into_response(),
        Mode::Status(code) => (StatusCode::from_u16(code).unwrap(), "service sick").into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            (StatusCode::GATEWAY_TIMEOUT, "late").into_response()
        }
    }
}

/// Wait until something accepts connections on loopback `port`; after
/// `secs`, fail with "`what` did not start" and `detail()` (a log, say).
pub fn wait_port(port: u16, what: &str, secs: u64, detail: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not start: {}",
            detail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A loopback port nobody listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `n` distinct free loopback ports (held together while chosen, so no two
/// are the same).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A free loopback port below 32768 and not in `avoid`: FalkorDB 4.16
/// silently ignores a BOLT_PORT above 32767 (no Bolt listener, no error).
pub fn free_low_port(avoid: &[u16]) -> u16 {
    let start = 20_000 + (std::process::id() % 10_000) as u16;
    (0..12_000u16)
        .map(|i| 20_000 + (start - 20_000 + i) % 12_000)
        .find(|p| !avoid.contains(p) && std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 32768")
}

/// Start the service on `port` (0: any) in its own runtime thread.
pub fn start(port: u16, mode: Mode) -> (Arc<Service>, SocketAddr) {
    let service = Arc::new(Service {
        mode: Mutex::new(mode),
        calls: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/process/document", post(process))
        .with_state(service.clone());
    (service, spawn_router(port, app))
}

/// Serve `app` on loopback `port` (0: any) from a runtime thread of its own,
/// so it keeps answering whatever the test's own runtime does.
pub fn spawn_router(port: u16, app: Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}
