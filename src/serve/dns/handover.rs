//! A hand-over without a lost query: at shutdown, the sockets this server shares with a
//! successor (`serve --share-port`, `SO_REUSEPORT`) stop being chosen by the kernel
//! before they close, so that nothing new is queued on them and what is queued is read.
//!
//! The kernel spreads a `SO_REUSEPORT` group's packets and connections over its sockets
//! by a hash; a socket that closes loses what was queued on it. A classic BPF program
//! attached to the group (`SO_ATTACH_REUSEPORT_CBPF`, Linux 4.5) picks the socket by its
//! index instead. The group's sockets are indexed in the order they joined, so the first
//! `own` are this server's (it was there first: it is the one being replaced) and the
//! successor's come after. The program picks `own + random % own`: the successor's
//! sockets (it runs the same number of workers, or more); an index past the group's end
//! falls back to the hash, so the program is harmless once this server has gone, or when
//! there is no successor at all.
//!
//! ```text
//!  shutdown ─► steer every group to index own.. ─► serve on for DRAIN (queues empty out)
//!           ─► UDP sockets connected to themselves (nothing new can arrive)
//!           ─► what is still queued answered ─► the group given back to the hash ─► close
//! ```

use std::os::fd::AsFd;
use std::time::Duration;

use nix::libc;
use nix::sys::socket::{setsockopt, sockopt::AttachReusePortCbpf};

/// How long a server goes on reading its sockets after steering new queries away.
pub const DRAIN: Duration = Duration::from_millis(300);

/// One `SO_REUSEPORT` group of this server: a socket of it, and how many of the group's
/// sockets are this server's.
#[derive(Debug)]
pub struct Group {
    /// A duplicate of one of the group's sockets (the same socket, another descriptor).
    pub socket: socket2::Socket,
    /// This server's sockets in the group.
    pub own: u32,
}

/// Steers the kernel's choice in each group away from this server's sockets (see the
/// module documentation). A failure is logged: the hand-over then loses what the kernel
/// still queues on this server's sockets as they close.
pub fn steer_away(groups: &[Group]) {
    for group in groups {
        if let Err(e) = steer(&group.socket, group.own) {
            let local = group.socket.local_addr().ok().and_then(|a| a.as_socket());
            tracing::warn!(
                "cannot steer new queries away from {} before closing it ({e}): a successor sharing the port \
                 may lose the few queued as it closes",
                local.map_or("a socket".to_string(), |a| a.to_string())
            );
        }
    }
}

/// Takes this server's UDP `sockets` out of their groups' choice for good, once the
/// drain is over: each is connected to its own address, and a connected socket of a
/// `SO_REUSEPORT` group gets only its peer's datagrams (the kernel then scores the group's
/// sockets instead of hashing, so the indices that shift as these sockets close no longer
/// matter). What they still hold stays readable, and is answered before they close.
/// Without a successor, queries from then on are refused by the kernel: the last
/// [`DRAIN`] of a shutdown.
pub fn stop_receiving(sockets: &[socket2::Socket]) {
    for socket in sockets {
        let own = socket.local_addr().ok().and_then(|a| a.as_socket());
        // A wildcard socket connected to itself would send from loopback: its last
        // answers to other hosts would fail. It stays steered away instead.
        let own = own.filter(|a| !a.ip().is_unspecified());
        let connected = own.map(|addr| socket.connect(&addr.into()));
        if let Some(Err(e)) = connected {
            tracing::warn!(
                "cannot close {} to new queries before closing it ({e}): a successor sharing the port may \
                 lose the few queued as it closes",
                own.map_or("a socket".to_string(), |a| a.to_string())
            );
        }
    }
}

/// Gives each group back the kernel's own choice, just before this server's last
/// descriptors of it close: the program attached is one whose every answer is past the
/// group's end, so the hash decides, as with no program. (A steering program left behind
/// would send the next successor's share of queries to it the moment it binds, before it
/// reads.) Call it last, right before the groups are dropped.
pub fn release(groups: &[Group]) {
    for group in groups {
        let mut program = [statement(BPF_RET | BPF_K, u32::MAX)];
        if let Err(e) = attach(&group.socket, &mut program) {
            tracing::warn!("cannot give a SO_REUSEPORT group back to the kernel's choice ({e})");
        }
    }
}

/// Attaches `A = random % own + own; return A` to the group of `socket`.
fn steer(socket: &impl AsFd, own: u32) -> nix::Result<()> {
    let own = own.max(1);
    let mut program = [
        // A = a random number (SKF_AD_RANDOM, an ancillary load).
        statement(BPF_LD | BPF_W | BPF_ABS, (libc::SKF_AD_OFF + libc::SKF_AD_RANDOM) as u32),
        statement(BPF_ALU | BPF_MOD | BPF_K, own),
        statement(BPF_ALU | BPF_ADD | BPF_K, own),
        statement(BPF_RET | BPF_A, 0),
    ];
    attach(socket, &mut program)
}

/// Attaches `program` to the `SO_REUSEPORT` group of `socket` (in place of any before).
fn attach(socket: &impl AsFd, program: &mut [libc::sock_filter]) -> nix::Result<()> {
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_mut_ptr() };
    setsockopt(socket, AttachReusePortCbpf, &fprog)
}

// Classic BPF opcodes (linux/bpf_common.h, linux/filter.h).
const BPF_LD: u16 = 0x00;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_ALU: u16 = 0x04;
const BPF_ADD: u16 = 0x00;
const BPF_MOD: u16 = 0x90;
const BPF_K: u16 = 0x00;
const BPF_RET: u16 = 0x06;
const BPF_A: u16 = 0x10;

/// One instruction that does not jump.
fn statement(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Protocol, Socket, Type};

    fn member(addr: std::net::SocketAddr) -> Socket {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&addr.into()).unwrap();
        s
    }

    /// Two sockets of "the old server", two of "the successor": once steered, every
    /// datagram goes to the successor's.
    #[test]
    fn a_steered_group_sends_everything_to_the_later_sockets() {
        let first = member("127.0.0.1:0".parse().unwrap());
        let addr = first.local_addr().unwrap().as_socket().unwrap();
        let old = [first, member(addr)];
        let new = [member(addr), member(addr)];
        steer(&old[0], 2).expect("attach the program");
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..200u8 {
            // Other source ports too: the hash would spread these.
            let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            sender.send_to(&[i], addr).unwrap();
            other.send_to(&[i], addr).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        let count = |s: &Socket| {
            s.set_nonblocking(true).unwrap();
            let mut n = 0;
            let mut buf = [std::mem::MaybeUninit::new(0u8); 16];
            while s.recv(&mut buf).is_ok() {
                n += 1;
            }
            n
        };
        let (old_got, new_got): (usize, usize) = (old.iter().map(count).sum(), new.iter().map(count).sum());
        assert_eq!((old_got, new_got), (0, 400), "every datagram to the successor's sockets");
        // Released: the hash decides again, over every socket of the group.
        release(&[Group { socket: old[0].try_clone().unwrap(), own: 2 }]);
        for i in 0..200u8 {
            let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            other.send_to(&[i], addr).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        let (old_got, new_got): (usize, usize) = (old.iter().map(count).sum(), new.iter().map(count).sum());
        assert!(old_got > 0 && new_got > 0 && old_got + new_got == 200, "spread again: {old_got} and {new_got}");
    }
}
