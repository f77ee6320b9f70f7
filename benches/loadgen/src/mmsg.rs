//! Batched UDP on a non-blocking socket: `recvmmsg`/`sendmmsg` over buffers allocated once.

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

/// Messages per system call.
pub const BATCH: usize = 64;
/// Bytes per message buffer.
pub const BUF: usize = 4096;

/// Buffers and headers for one batch, reused for every call.
pub struct Batch {
    pub bufs: Vec<[u8; BUF]>,
    pub lens: [usize; BATCH],
    pub addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl Batch {
    pub fn new() -> Box<Batch> {
        let mut b = Box::new(Batch {
            bufs: vec![[0u8; BUF]; BATCH],
            lens: [0; BATCH],
            // SAFETY: all-zero is a valid sockaddr_storage, iovec and mmsghdr.
            addrs: vec![unsafe { std::mem::zeroed() }; BATCH],
            iovs: vec![unsafe { std::mem::zeroed() }; BATCH],
            hdrs: vec![unsafe { std::mem::zeroed() }; BATCH],
        });
        for i in 0..BATCH {
            b.iovs[i].iov_base = b.bufs[i].as_mut_ptr().cast();
            let addr: *mut libc::sockaddr_storage = &mut b.addrs[i];
            let iov: *mut libc::iovec = &mut b.iovs[i];
            let h = &mut b.hdrs[i].msg_hdr;
            h.msg_name = addr.cast();
            h.msg_iov = iov;
            h.msg_iovlen = 1;
        }
        b
    }

    /// Receives up to BATCH datagrams without blocking: how many (0 if none waiting).
    #[allow(dead_code)]
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.recv_with(fd, libc::MSG_DONTWAIT)
    }

    /// Waits for at least one datagram on a blocking socket, then takes what else is
    /// waiting (up to BATCH).
    #[allow(dead_code)]
    pub fn recv_blocking(&mut self, fd: RawFd) -> io::Result<usize> {
        self.recv_with(fd, libc::MSG_WAITFORONE)
    }

    fn recv_with(&mut self, fd: RawFd, flags: i32) -> io::Result<usize> {
        for i in 0..BATCH {
            self.iovs[i].iov_len = BUF;
            self.hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
        }
        // SAFETY: the headers point at buffers owned by self, sized as declared.
        let n = unsafe { libc::recvmmsg(fd, self.hdrs.as_mut_ptr(), BATCH as u32, flags, std::ptr::null_mut()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock { Ok(0) } else { Err(e) };
        }
        for i in 0..n as usize {
            self.lens[i] = self.hdrs[i].msg_len as usize;
        }
        Ok(n as usize)
    }

    /// Sends the first `n` buffers (lengths in `lens`, addresses in `addrs`): how many
    /// went out.
    pub fn send(&mut self, fd: RawFd, n: usize) -> io::Result<usize> {
        for i in 0..n {
            self.iovs[i].iov_len = self.lens[i];
            self.hdrs[i].msg_hdr.msg_namelen = match self.addrs[i].ss_family as i32 {
                libc::AF_INET => std::mem::size_of::<libc::sockaddr_in>() as u32,
                _ => std::mem::size_of::<libc::sockaddr_in6>() as u32,
            };
        }
        let mut sent = 0;
        while sent < n {
            // SAFETY: as in recv.
            let r = unsafe { libc::sendmmsg(fd, self.hdrs.as_mut_ptr().add(sent), (n - sent) as u32, 0) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    break;
                }
                return Err(e);
            }
            sent += r as usize;
        }
        Ok(sent)
    }

    /// Sends the first `n` buffers to `to`, each with its own length.
    #[allow(dead_code)]
    pub fn send_to(&mut self, fd: RawFd, n: usize, to: SocketAddr) -> io::Result<usize> {
        let raw = sockaddr(to);
        for i in 0..n {
            self.addrs[i] = raw;
        }
        self.send(fd, n)
    }
}

/// A socket address as the kernel takes it.
pub fn sockaddr(addr: SocketAddr) -> libc::sockaddr_storage {
    // SAFETY: all-zero is valid; the family's struct fits in sockaddr_storage.
    let mut out: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            unsafe { std::ptr::write((&mut out as *mut libc::sockaddr_storage).cast(), sin) };
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as u16,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: 0,
            };
            unsafe { std::ptr::write((&mut out as *mut libc::sockaddr_storage).cast(), sin6) };
        }
    }
    out
}
