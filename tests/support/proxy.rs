//! A TCP fault proxy between the replicator and one side (source or target): it forwards bytes
//! until told to misbehave: reset every connection mid-stream, reset connections after N bytes,
//! stall reads, blackhole (accept, swallow, never answer), throttle to a slow link, or delay
//! every byte (a link with latency: the benchmark's backup in another zone).
//! The replicator connects through it with `directConnection=true`, because the testbed
//! advertises its own address in `hello` and the driver would otherwise bypass the proxy.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to traffic right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Stop reading in both directions: bytes pile up, nothing is lost, nothing moves.
    Stall,
    /// Accept and read, drop every byte, never connect upstream. Leaving it resets every
    /// connection (their streams lost bytes).
    Blackhole,
    /// At most `bytes_per_sec` per direction and connection, in small chunks.
    Slow { bytes_per_sec: u64 },
    /// Reset each connection once it has forwarded this many bytes (mid-batch for big replies).
    ResetAfter { bytes: u64 },
    /// Every byte arrives `one_way` after it was sent, both directions (latency, not a slow
    /// link: reading goes on meanwhile). Applies to connections opened while it is set.
    /// Used by the benchmark's remote backup (benches/throughput.rs).
    #[allow(dead_code)]
    Delay { one_way: Duration },
}

#[derive(Debug, Clone, Copy)]
struct State {
    fault: Fault,
    /// Bumped to reset every open connection at once.
    reset_gen: u64,
}

/// A running proxy; stops accepting (open connections are reset) when dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    state: watch::Sender<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let (state, rx) = watch::channel(State {
            fault: Fault::Pass,
            reset_gen: 0,
        });
        let task = tokio::spawn(accept_loop(listener, upstream, rx));
        Proxy { addr, state, task }
    }

    /// A connection string through the proxy (one node, no discovery).
    pub fn uri(&self) -> String {
        format!("mongodb://{}/?directConnection=true", self.addr)
    }

    /// Switches the fault; leaving `Blackhole` resets every connection.
    pub fn set(&self, fault: Fault) {
        self.state.send_modify(|s| {
            if s.fault == Fault::Blackhole && fault != Fault::Blackhole {
                s.reset_gen += 1;
            }
            s.fault = fault;
        });
    }

    /// Resets (RST) every open connection now, wherever its stream is.
    pub fn reset_all(&self) {
        self.state.send_modify(|s| s.reset_gen += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.reset_all();
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, state: watch::Receiver<State>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(connection(client, upstream, state.clone()));
    }
}

/// SO_LINGER 0: closing sends an RST at once (a zero linger never blocks, unlike the
/// deprecation note warns for positive ones).
#[allow(deprecated)]
fn reset_on_close(s: &TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
}

/// One proxied connection; every way out drops both sockets with SO_LINGER 0, i.e. an RST.
async fn connection(client: TcpStream, upstream: SocketAddr, mut state: watch::Receiver<State>) {
    reset_on_close(&client);
    let generation = state.borrow().reset_gen;
    let reset = {
        let mut state = state.clone();
        async move {
            let _ = state.wait_for(|s| s.reset_gen != generation).await;
        }
    };
    if state.borrow().fault == Fault::Blackhole {
        // Swallow whatever the client sends until the blackhole ends (then reset).
        let (mut r, _w) = client.into_split();
        let mut buf = vec![0u8; 16 * 1024];
        tokio::select! {
            _ = reset => {}
            _ = async { while matches!(r.read(&mut buf).await, Ok(n) if n > 0) {} } => {}
        }
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    reset_on_close(&server);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let fault = state.borrow().fault;
    if let Fault::Delay { one_way } = fault {
        tokio::select! {
            _ = reset => {}
            _ = delayed(cr, sw, one_way) => {}
            _ = delayed(sr, cw, one_way) => {}
        }
        return;
    }
    tokio::select! {
        _ = reset => {}
        _ = pump(cr, sw, state.clone()) => {}
        _ = pump(sr, cw, state.clone()) => {}
        _ = state.wait_for(|_| false) => {}
    }
}

/// Copies one direction under the current fault; returns when the stream ends or must reset.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut state: watch::Receiver<State>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut forwarded = 0u64;
    loop {
        let fault = state.borrow_and_update().fault;
        if fault == Fault::Stall {
            if state.changed().await.is_err() {
                return;
            }
            continue;
        }
        let cap = match fault {
            Fault::Slow { bytes_per_sec } => (bytes_per_sec / 20).clamp(1, buf.len() as u64),
            _ => buf.len() as u64,
        } as usize;
        let n = tokio::select! {
            r = from.read(&mut buf[..cap]) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = state.changed() => continue,
        };
        match fault {
            Fault::Blackhole => continue,
            Fault::Slow { bytes_per_sec } => {
                let secs = n as f64 / bytes_per_sec.max(1) as f64;
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
            Fault::ResetAfter { bytes } => {
                if forwarded + n as u64 > bytes {
                    // Forward part of it, then cut: the peer sees a torn message.
                    let part = (bytes.saturating_sub(forwarded) as usize).min(n);
                    let _ = to.write_all(&buf[..part]).await;
                    return;
                }
            }
            Fault::Pass | Fault::Stall | Fault::Delay { .. } => {}
        }
        forwarded += n as u64;
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Forwards `from` to `to`, each chunk `one_way` after it was read; reading goes on meanwhile,
/// so the link adds latency without limiting throughput.
async fn delayed(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, one_way: Duration) {
    use tokio::time::Instant;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf).await {
            if tx
                .send((Instant::now() + one_way, buf[..n].to_vec()))
                .is_err()
            {
                return;
            }
        }
    };
    let write = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(read, write);
}
