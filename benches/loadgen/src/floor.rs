//! The do-nothing batched responder: the kernel's floor for a UDP DNS server on this
//! machine. Each thread owns one `SO_REUSEPORT` socket, receives with `recvmmsg`, answers
//! every query with one fixed A record (192.0.2.1, the question echoed, no EDNS), and
//! sends with `sendmmsg`. No DNS work at all: what any real server costs beyond it is
//! its own.
//!
//! ```text
//! floor --listen 127.0.0.1:5399 [--threads 2]
//! ```

mod mmsg;

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mmsg::Batch;

fn main() {
    let mut listen: SocketAddr = "127.0.0.1:5399".parse().unwrap();
    let mut threads = 2usize;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--listen" => listen = value.parse().expect("--listen IP:PORT"),
            "--threads" => threads = value.parse().expect("--threads N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let fd = bind(listen);
            std::thread::spawn(move || serve(fd))
        })
        .collect();
    eprintln!("floor: answering on {listen} with {threads} thread(s)");
    for w in workers {
        let _ = w.join();
    }
}

/// A blocking UDP socket on `addr` with SO_REUSEPORT.
fn bind(addr: SocketAddr) -> OwnedFd {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: plain socket calls on a descriptor this function owns.
    unsafe {
        let fd = libc::socket(family, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let one: libc::c_int = 1;
        let size = std::mem::size_of::<libc::c_int>() as u32;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, (&one as *const libc::c_int).cast(), size);
        let raw = mmsg::sockaddr(addr);
        let len = if addr.is_ipv4() {
            std::mem::size_of::<libc::sockaddr_in>()
        } else {
            std::mem::size_of::<libc::sockaddr_in6>()
        };
        let r = libc::bind(fd, (&raw as *const libc::sockaddr_storage).cast(), len as u32);
        assert!(r == 0, "bind {addr}: {}", std::io::Error::last_os_error());
        OwnedFd::from_raw_fd(fd)
    }
}

fn serve(fd: OwnedFd) {
    let fd = fd.as_raw_fd();
    let mut batch = Batch::new();
    loop {
        let n = match batch.recv_blocking(fd) {
            Ok(n) => n,
            Err(_) => continue,
        };
        for i in 0..n {
            let len = batch.lens[i];
            batch.lens[i] = answer(&mut batch.bufs[i], len);
        }
        let _ = batch.send(fd, n);
    }
}

/// Turns the query in `buf[..len]` into the fixed answer in place; its new length (0:
/// not a query).
fn answer(buf: &mut [u8], len: usize) -> usize {
    if len < 12 || buf[2] & 0x80 != 0 {
        return 0;
    }
    let mut pos = 12;
    while pos < len && buf[pos] != 0 {
        pos += 1 + usize::from(buf[pos]);
    }
    let end = pos + 5;
    if end > len {
        return 0;
    }
    buf[2] = 0x84 | (buf[2] & 0x01); // QR, AA, RD copied
    buf[3] = 0;
    buf[4..12].copy_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    let record = [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1];
    buf[end..end + record.len()].copy_from_slice(&record);
    end + record.len()
}
