//! Fibre latency for a test network built from namespaces, where the kernel
//! has no `netem` (this machine's has only `tbf` and `htb`).
//!
//! A router namespace sends every packet it forwards to a netfilter queue
//! (`nft ... queue num N`); a [`Delayer`] thread, entered into that
//! namespace, holds each packet for its queue's delay and then lets it go,
//! in order. One queue per delay, so a queue is first in, first out, and one
//! batch verdict ("accept every packet up to id N") releases everything due
//! at once, including any packet whose notice the socket had to drop.
//!
//! Only the packets' metadata crosses to user space (copy mode "meta"); a
//! queue that overflows lets packets through undelayed (fail-open), counted.
//! The protocol (nfnetlink_queue) is a few fixed messages over a netlink
//! socket (`linux/netfilter/nfnetlink_queue.h`), sent with nix's safe
//! socket calls.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags};
use nix::sys::socket::{self, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};

const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQNL_MSG_VERDICT_BATCH: u16 = 3;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
const NFQA_CFG_MASK: u16 = 4;
const NFQA_CFG_FLAGS: u16 = 5;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_META: u8 = 1;
const NFQA_CFG_F_FAIL_OPEN: u32 = 1;
const NFQA_CFG_F_GSO: u32 = 4;
const NF_ACCEPT: u32 = 1;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const AF_INET: u8 = 2;
/// Packets a queue holds at most before letting more through undelayed.
const QUEUE_MAX: u32 = 65_536;

/// What a delayer did.
#[derive(Debug, Clone, Default)]
pub struct DelayStats {
    pub packets: u64,
    /// Most packets held at once.
    pub most_held: usize,
}

/// A thread delaying the packets of some queues of one namespace.
pub struct Delayer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<DelayStats>>>,
    pub netns: String,
}

impl Delayer {
    /// Enter `netns` and serve `queues` (queue number, delay). Returns once
    /// the queues are bound, or the error binding them.
    pub fn start(netns: &str, queues: &[(u16, Duration)]) -> io::Result<Delayer> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let ns = netns.to_string();
        let queues: HashMap<u16, Duration> = queues.iter().copied().collect();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("delay-{netns}"))
            .spawn(move || {
                let socket = enter(&ns).and_then(|()| Socket::bind(&queues));
                let mut socket = match socket {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                        return Err(e);
                    }
                };
                socket.serve(&queues, &flag)
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Delayer {
                stop,
                thread: Some(thread),
                netns: netns.to_string(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("the delay thread died at start")),
        }
    }

    /// Stop (releasing what it holds) and say what it did.
    pub fn stop(mut self) -> io::Result<DelayStats> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("stopped once")
            .join()
            .map_err(|_| io::Error::other("the delay thread panicked"))?
    }
}

impl Drop for Delayer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Move this thread into a named network namespace (`ip netns add`'s).
fn enter(netns: &str) -> io::Result<()> {
    let file = std::fs::File::open(format!("/run/netns/{netns}"))?;
    nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)?;
    Ok(())
}

struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// One netlink message of the queue subsystem: header, nfgenmsg, attributes.
fn message(kind: u16, flags: u16, seq: u32, queue: u16, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    m.extend_from_slice(&[0, 0]); // AF_UNSPEC, NFNETLINK_V0
    m.extend_from_slice(&queue.to_be_bytes());
    for (kind, value) in attrs {
        let len = 4 + value.len();
        m.extend_from_slice(&(len as u16).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(value);
        m.resize(m.len().next_multiple_of(4), 0);
    }
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m[4..6].copy_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | kind).to_ne_bytes());
    m[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    m
}

impl Socket {
    fn bind(queues: &HashMap<u16, Duration>) -> io::Result<Socket> {
        let fd = socket::socket(
            socket::AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )?;
        socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        // A large receive buffer (as root): notices of packets arriving
        // while we release others must not overflow it. One that is lost
        // anyway is released by the next batch verdict.
        socket::setsockopt(&fd, socket::sockopt::RcvBufForce, &(16 << 20))?;
        let mut socket = Socket {
            fd,
            seq: 0,
            buf: vec![0; 1 << 17],
        };
        let flags = (NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO).to_be_bytes();
        for &queue in queues.keys() {
            let bind = [NFQNL_CFG_CMD_BIND, 0, 0, AF_INET];
            socket.configure(queue, &[(NFQA_CFG_CMD, &bind)])?;
            let mut params = 0u32.to_be_bytes().to_vec();
            params.push(NFQNL_COPY_META);
            socket.configure(
                queue,
                &[
                    (NFQA_CFG_PARAMS, &params),
                    (NFQA_CFG_QUEUE_MAXLEN, &QUEUE_MAX.to_be_bytes()),
                    (NFQA_CFG_MASK, &flags),
                    (NFQA_CFG_FLAGS, &flags),
                ],
            )?;
        }
        Ok(socket)
    }

    fn send(&self, m: &[u8]) -> io::Result<()> {
        socket::send(self.fd.as_raw_fd(), m, MsgFlags::empty())?;
        Ok(())
    }

    /// Send a configuration message and wait for the kernel's answer.
    fn configure(&mut self, queue: u16, attrs: &[(u16, &[u8])]) -> io::Result<()> {
        self.seq += 1;
        let m = message(NFQNL_MSG_CONFIG, NLM_F_ACK, self.seq, queue, attrs);
        self.send(&m)?;
        loop {
            let n = self.recv(MsgFlags::empty())?;
            let mut at = 0;
            while at + 16 <= n {
                let len = u32::from_ne_bytes(self.buf[at..at + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(self.buf[at + 4..at + 6].try_into().unwrap());
                if kind == NLMSG_ERROR {
                    let errno = i32::from_ne_bytes(self.buf[at + 16..at + 20].try_into().unwrap());
                    return if errno == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::from_raw_os_error(-errno))
                    };
                }
                if len < 16 {
                    break;
                }
                at += len.next_multiple_of(4);
            }
        }
    }

    fn recv(&mut self, flags: MsgFlags) -> io::Result<usize> {
        Ok(socket::recv(self.fd.as_raw_fd(), &mut self.buf, flags)?)
    }

    /// Wait at most `timeout` for the socket to be readable.
    fn wait(&self, timeout: Duration) -> io::Result<()> {
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        match nix::poll::ppoll(&mut fds, Some(timeout.into()), None) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn serve(
        &mut self,
        delays: &HashMap<u16, Duration>,
        stop: &AtomicBool,
    ) -> io::Result<DelayStats> {
        let mut held: HashMap<u16, VecDeque<(Instant, u32)>> =
            delays.keys().map(|&q| (q, VecDeque::new())).collect();
        let mut stats = DelayStats::default();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let next = held
                .values()
                .filter_map(|q| q.front().map(|(due, _)| *due))
                .min();
            let timeout = match next {
                Some(due) => due.saturating_duration_since(now),
                None => Duration::from_millis(100),
            };
            self.wait(timeout.min(Duration::from_millis(100)))?;
            // Everything that arrived.
            loop {
                let n = match self.recv(MsgFlags::MSG_DONTWAIT) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // Notices lost to a full buffer: the next batch
                    // verdict releases their packets.
                    Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ENOBUFS as i32) => {
                        continue
                    }
                    Err(e) => return Err(e),
                };
                let arrived = Instant::now();
                let mut at = 0;
                while at + 20 <= n {
                    let len = u32::from_ne_bytes(self.buf[at..at + 4].try_into().unwrap()) as usize;
                    if len < 20 || at + len > n {
                        break;
                    }
                    let kind = u16::from_ne_bytes(self.buf[at + 4..at + 6].try_into().unwrap());
                    if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET {
                        let queue =
                            u16::from_be_bytes(self.buf[at + 18..at + 20].try_into().unwrap());
                        if let (Some(id), Some(delay)) =
                            (packet_id(&self.buf[at + 20..at + len]), delays.get(&queue))
                        {
                            let q = held.get_mut(&queue).expect("a bound queue");
                            q.push_back((arrived + *delay, id));
                            stats.packets += 1;
                        }
                    }
                    at += len.next_multiple_of(4);
                }
            }
            stats.most_held = stats.most_held.max(held.values().map(VecDeque::len).sum());
            self.release(&mut held, Instant::now())?;
        }
        // Let everything go.
        let far = Instant::now() + Duration::from_secs(3600);
        self.release(&mut held, far)?;
        Ok(stats)
    }

    /// Accept, per queue, every packet due by `now` (one batch verdict).
    fn release(
        &mut self,
        held: &mut HashMap<u16, VecDeque<(Instant, u32)>>,
        now: Instant,
    ) -> io::Result<()> {
        for (&queue, q) in held.iter_mut() {
            let mut last = None;
            while q.front().is_some_and(|(due, _)| *due <= now) {
                last = q.pop_front().map(|(_, id)| id);
            }
            if let Some(id) = last {
                let mut verdict = NF_ACCEPT.to_be_bytes().to_vec();
                verdict.extend_from_slice(&id.to_be_bytes());
                self.seq += 1;
                let m = message(
                    NFQNL_MSG_VERDICT_BATCH,
                    0,
                    self.seq,
                    queue,
                    &[(NFQA_VERDICT_HDR, &verdict)],
                );
                self.send(&m)?;
            }
        }
        Ok(())
    }
}

/// The packet id in a packet message's attributes.
fn packet_id(mut attrs: &[u8]) -> Option<u32> {
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x7fff;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == NFQA_PACKET_HDR && len >= 8 {
            return Some(u32::from_be_bytes(attrs[4..8].try_into().ok()?));
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    None
}
