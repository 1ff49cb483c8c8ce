//! Restarts without a failed request.
//!
//! A new `relata serve` binds the address of the running one ([`bind_shared`]: both
//! sockets set `SO_REUSEPORT`, and the kernel spreads new connections over them). Once it
//! listens, the operator sends SIGTERM to the old one, which drains:
//!
//! 1. it marks itself draining, so that from now on every HTTP/1 answer says
//!    `Connection: close` ([`close_while_draining`]) and the client opens its next
//!    connection, which only the new process accepts;
//! 2. it closes its listener. Linux resets the connections still waiting in a closed
//!    listener's accept queue, unless `net.ipv4.tcp_migrate_req = 1` hands them to another
//!    listener of the same port ([`warn_if_queued_connections_are_reset`]);
//! 3. it leaves idle keep-alive connections open for [`IDLE_DRAIN`]: closing one at once
//!    races with its client sending the next request on it, which then fails. A client
//!    that sends in that time gets its answer with `Connection: close`;
//! 4. then hyper's graceful shutdown closes the connections still idle and lets requests
//!    in flight finish, within the shutdown grace.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::{TcpListener, TcpSocket};

use crate::http::state::AppState;

/// Connections the kernel may queue for `accept` (the accept loop takes them as fast as
/// the connection cap allows; a burst past this is refused by the kernel).
pub const LISTEN_BACKLOG: u32 = 1024;

/// How long a draining server leaves its idle keep-alive connections open, so that a
/// client sending its next request on one gets an answer (saying `Connection: close`)
/// rather than a closed connection.
pub const IDLE_DRAIN: Duration = Duration::from_secs(2);

/// Where the kernel says whether a closed listener's queued connections move to another
/// listener of its `SO_REUSEPORT` group (Linux 5.14 and later, per network namespace).
const MIGRATE_SETTING: &str = "/proc/sys/net/ipv4/tcp_migrate_req";

/// Binds `bind` (`HOST:PORT`; port 0 picks a free port) so that another process may bind
/// the same address while this one runs: `SO_REUSEADDR`, and `SO_REUSEPORT` on Unix.
/// Another `relata serve` given this one's address joins it rather than failing with
/// "address in use".
pub async fn bind_shared(bind: &str) -> std::io::Result<TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(bind).await? {
        match listen_on(addr) {
            Ok(listener) => return Ok(listener),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

fn listen_on(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Logs a warning when this machine resets queued connections on a restart
/// (`net.ipv4.tcp_migrate_req = 0`): relata does not change kernel settings itself.
pub fn warn_if_queued_connections_are_reset() {
    let Ok(setting) = std::fs::read_to_string(MIGRATE_SETTING) else {
        // Not Linux, or a kernel older than 5.14: nothing to say that could be acted on.
        return;
    };
    if setting.trim() == "0" {
        tracing::warn!(
            setting = "net.ipv4.tcp_migrate_req",
            value = 0,
            "connections waiting to be accepted when relata stops are reset, failing their \
             requests; for restarts without a failed request set net.ipv4.tcp_migrate_req = 1"
        );
    }
}

/// While the server drains, says `Connection: close` on every HTTP/1 answer, so that the
/// client closes the connection after reading it and sends its next request on a new
/// one, to the process that replaces this one. (HTTP/2 connections are told by hyper's
/// GOAWAY instead.)
pub async fn close_while_draining(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let http1 = matches!(req.version(), Version::HTTP_10 | Version::HTTP_11);
    let mut res = next.run(req).await;
    if http1 && state.is_draining() {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}
