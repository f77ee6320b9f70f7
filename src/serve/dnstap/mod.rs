//! dnstap query logs (`server.dnstap`): the queries and answers the engine's tap samples
//! (one in `every`), written as dnstap messages ([`message`]) in Frame Streams
//! ([`frames`]) to a reader's Unix socket or to a file, by a thread of their own.
//!
//! The query path only copies a sampled query and its answer into a bounded queue
//! ([`DnstapTap::record`]); when the queue is full (a slow or absent reader) the query
//! is dropped and counted, never waited for. With no `server.dnstap` no tap is set and
//! the query path pays one branch. The writer encodes, writes, and flushes whenever the
//! queue runs dry; a socket whose reader goes away is dialled again every
//! [`RECONNECT_EVERY`], the frames in between dropped and counted.

pub mod frames;
pub mod message;

use std::cell::Cell;
use std::io::{self, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

use self::frames::Control;
use self::message::{AUTH_QUERY, AUTH_RESPONSE, Origin, Seen};
use crate::compile::host::{DnstapOutput, DnstapSettings};
use crate::engine::tap::{Tap, Tapped};

/// How often a socket whose reader is gone is dialled again.
pub const RECONNECT_EVERY: Duration = Duration::from_secs(2);
/// How long a write to the reader's socket may block before the reader counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the writer waits for the reader's ACCEPT, and for its FINISH at the end.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Frames written and dropped, for metrics.
#[derive(Debug, Default)]
pub struct DnstapStats {
    /// Frames written to the reader or the file.
    pub written: AtomicU64,
    /// Frames dropped: the queue was full, no reader was there, or a write failed.
    pub dropped: AtomicU64,
}

/// What goes from the query path to the writer.
enum Item {
    Seen(Seen),
    Stop,
}

/// The engine's tap: samples one query in `every` and queues a copy.
#[derive(Debug)]
pub struct DnstapTap {
    every: u32,
    queries: bool,
    responses: bool,
    queue: SyncSender<Item>,
    closed: AtomicBool,
    stats: Arc<DnstapStats>,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Item::Seen(_) => "Seen",
            Item::Stop => "Stop",
        })
    }
}

thread_local! {
    /// Queries this thread saw since it last sampled one.
    static SINCE_SAMPLE: Cell<u32> = const { Cell::new(0) };
}

impl DnstapTap {
    fn frames_per_query(&self) -> u64 {
        u64::from(self.queries) + u64::from(self.responses)
    }
}

impl Tap for DnstapTap {
    #[inline]
    fn sample(&self) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        SINCE_SAMPLE.with(|since| {
            let seen = since.get() + 1;
            let take = seen >= self.every;
            since.set(if take { 0 } else { seen });
            take
        })
    }

    fn record(&self, tapped: Tapped<'_>) {
        let scope = crate::wire::decode::ecs_seen(tapped.response);
        let extra = match (tapped.line, scope) {
            (None, None) => None,
            (line, scope) => {
                let mut text = String::new();
                if let Some(line) = line {
                    text.push_str(&format!("line={line}"));
                    if let Some(served) = tapped.served_line.filter(|s| *s != line) {
                        text.push_str(&format!(" served={served}"));
                    }
                }
                if let Some(e) = scope {
                    let sep = if text.is_empty() { "" } else { " " };
                    text.push_str(&format!("{sep}ecs={}/{} scope={}", e.address, e.source_prefix, e.scope_prefix));
                }
                Some(text.into_bytes())
            }
        };
        let seen = Seen {
            at: SystemTime::now(),
            peer: tapped.peer,
            transport: tapped.transport,
            query: if self.queries { tapped.query.to_vec() } else { Vec::new() },
            response: if self.responses { tapped.response.to_vec() } else { Vec::new() },
            extra,
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.queue.try_send(Item::Seen(seen)) {
            self.stats.dropped.fetch_add(self.frames_per_query(), Ordering::Relaxed);
        }
    }
}

/// The running writer: [`Writer::close`] ends the stream (STOP) and the thread.
#[derive(Debug)]
pub struct Writer {
    tap: Arc<DnstapTap>,
    thread: Option<std::thread::JoinHandle<()>>,
    target: String,
}

impl Writer {
    /// Stops sampling, drops what is still queued (counted), writes the STOP frame, and
    /// waits for the writer thread: a reader that stopped reading holds it for a write
    /// timeout (2 s) and the wait for its FINISH (2 s) at most.
    pub fn close(mut self) {
        self.tap.closed.store(true, Ordering::Relaxed);
        // A full queue: the writer sees `closed` at its next item instead.
        let _ = self.tap.queue.try_send(Item::Stop);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("dnstap writer for {} ended in a panic", self.target);
        }
    }
}

/// The tap of `settings`, made before the engine (which is built with it), and the queue
/// its writer reads once the server starts ([`Prepared::start`]).
#[derive(Debug)]
pub struct Prepared {
    tap: Arc<DnstapTap>,
    queued: Receiver<Item>,
}

/// Makes the tap of `settings`, counting into `stats`.
pub fn prepare(settings: &DnstapSettings, stats: Arc<DnstapStats>) -> Prepared {
    let (queue, queued) = std::sync::mpsc::sync_channel(settings.queue);
    let tap = Arc::new(DnstapTap {
        every: settings.every.max(1),
        queries: settings.queries,
        responses: settings.responses,
        queue,
        closed: AtomicBool::new(false),
        stats,
    });
    Prepared { tap, queued }
}

impl Prepared {
    /// The tap the engine is built with.
    pub fn tap(&self) -> Arc<dyn Tap> {
        self.tap.clone()
    }

    /// Starts the writer of `settings`. A file that cannot be opened is an error; a
    /// socket with no reader yet is not (it is dialled again every [`RECONNECT_EVERY`]).
    pub fn start(self, settings: &DnstapSettings) -> io::Result<Writer> {
        let Prepared { tap, queued } = self;
        let identity = settings.identity.clone().unwrap_or_else(|| {
            nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "linedns".into())
        });
        let origin = Origin {
            identity: identity.into_bytes(),
            version: format!("linedns {}", env!("CARGO_PKG_VERSION")).into_bytes(),
        };
        let (target, sink) = match &settings.output {
            DnstapOutput::File(path) => {
                (path.display().to_string(), Sink::File { file: open_file(path)?, failing: false })
            }
            DnstapOutput::Socket(path) => (
                path.display().to_string(),
                Sink::Socket { path: path.clone(), stream: None, next_dial: Instant::now() },
            ),
        };
        let kinds: Vec<i32> = [(settings.queries, AUTH_QUERY), (settings.responses, AUTH_RESPONSE)]
            .into_iter()
            .filter_map(|(on, kind)| on.then_some(kind))
            .collect();
        let thread = std::thread::Builder::new().name("dnstap".into()).spawn({
            let tap = tap.clone();
            move || write_frames(sink, queued, &origin, &kinds, &tap)
        })?;
        tracing::info!("dnstap: logging one query in {} to {target}", settings.every);
        Ok(Writer { tap, thread: Some(thread), target })
    }
}

/// Opens the dnstap file, keeping an existing one as FILE.SECONDS first (a Frame
/// Streams file holds one stream), and writes START.
fn open_file(path: &Path) -> io::Result<BufWriter<std::fs::File>> {
    let context = |e: io::Error| io::Error::new(e.kind(), format!("dnstap file {}: {e}", path.display()));
    if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        let stamp = super::clock::unix_now();
        let kept = (0..)
            .map(|n| {
                PathBuf::from(if n == 0 {
                    format!("{}.{stamp}", path.display())
                } else {
                    format!("{}.{stamp}.{n}", path.display())
                })
            })
            .find(|candidate| !candidate.exists())
            .unwrap_or_else(|| PathBuf::from(format!("{}.{stamp}", path.display())));
        std::fs::rename(path, &kept).map_err(context)?;
        tracing::info!("dnstap: the previous {} is kept as {}", path.display(), kept.display());
    }
    let mut file = BufWriter::new(std::fs::File::create(path).map_err(context)?);
    file.write_all(&frames::control(Control::Start, true)).map_err(context)?;
    Ok(file)
}

/// Where the frames go.
enum Sink {
    /// A file; `failing` once a write failed (logged once until one succeeds).
    File {
        file: BufWriter<std::fs::File>,
        failing: bool,
    },
    Socket {
        path: PathBuf,
        stream: Option<BufWriter<UnixStream>>,
        next_dial: Instant,
    },
}

impl Sink {
    /// Connects to the reader and runs the handshake (READY, ACCEPT, START), when the
    /// socket has no reader and its time to dial again has come.
    fn dial(&mut self) {
        let Sink::Socket { path, stream, next_dial } = self else { return };
        if stream.is_some() || Instant::now() < *next_dial {
            return;
        }
        *next_dial = Instant::now() + RECONNECT_EVERY;
        match handshake(path) {
            Ok(connected) => {
                tracing::info!("dnstap: connected to the reader at {}", path.display());
                *stream = Some(BufWriter::new(connected));
            }
            Err(e) => tracing::warn!(
                "dnstap: no reader at {} ({e}); frames are dropped until one answers (trying every {RECONNECT_EVERY:?})",
                path.display()
            ),
        }
    }

    /// The writer, if there is one to write to.
    fn writer(&mut self) -> Option<&mut dyn Write> {
        match self {
            Sink::File { file, .. } => Some(file),
            Sink::Socket { stream, .. } => stream.as_mut().map(|s| s as &mut dyn Write),
        }
    }

    /// After a failed write: a socket's reader is gone (dialled again later); a file's
    /// error is logged and the writing goes on.
    fn failed(&mut self, e: &io::Error) {
        match self {
            Sink::File { failing, .. } => {
                if !std::mem::replace(failing, true) {
                    tracing::error!("dnstap: cannot write the file ({e}); frames are dropped and counted until it can");
                }
            }
            Sink::Socket { path, stream, .. } => {
                tracing::warn!("dnstap: the reader at {} went away ({e})", path.display());
                // What is buffered is given up, not written again on drop.
                if let Some(gone) = stream.take() {
                    drop(gone.into_parts());
                }
            }
        }
    }

    /// Writes STOP and flushes; a socket waits for the reader's FINISH.
    fn finish(&mut self) {
        let stop = frames::control(Control::Stop, false);
        let ended = self.writer().map(|w| w.write_all(&stop).and_then(|()| w.flush()));
        if let (Some(Ok(())), Sink::Socket { stream: Some(stream), .. }) = (ended, self) {
            let socket = stream.get_mut();
            let _ = socket.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
            let _ = frames::read_control(socket);
        }
    }
}

/// Connects to `path` and runs the bidirectional handshake.
fn handshake(path: &Path) -> io::Result<UnixStream> {
    // Without blocking: a reader whose backlog is full (it stopped accepting) is an
    // error now, not a wait.
    let connecting = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    connecting.set_nonblocking(true)?;
    connecting.connect(&socket2::SockAddr::unix(path)?)?;
    connecting.set_nonblocking(false)?;
    let mut socket = UnixStream::from(std::os::fd::OwnedFd::from(connecting));
    socket.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    socket.write_all(&frames::control(Control::Ready, true))?;
    let (kind, types) = frames::read_control(&mut socket)?;
    if kind != Control::Accept as u32 || !types.iter().any(|t| t == frames::CONTENT_TYPE) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "the reader did not accept protobuf:dnstap.Dnstap"));
    }
    socket.write_all(&frames::control(Control::Start, true))?;
    Ok(socket)
}

/// The writer thread: encodes what is queued, writes it, flushes when the queue runs
/// dry, until [`Item::Stop`].
fn write_frames(mut sink: Sink, queued: Receiver<Item>, origin: &Origin, kinds: &[i32], tap: &DnstapTap) {
    let (stats, per_query) = (&tap.stats, tap.frames_per_query());
    let mut frame = Vec::with_capacity(1024);
    let mut payload = Vec::with_capacity(1024);
    let mut next: Option<Item> = None;
    sink.dial();
    loop {
        if tap.closed.load(Ordering::Relaxed) {
            // Closing: what is still queued is dropped, not written at the reader's pace.
            let left = next.take().into_iter().chain(queued.try_iter());
            let left = left.filter(|item| matches!(item, Item::Seen(_))).count() as u64;
            stats.dropped.fetch_add(left * per_query, Ordering::Relaxed);
            break;
        }
        let item = match next.take().map_or_else(|| queued.recv_timeout(RECONNECT_EVERY), Ok) {
            Ok(item) => item,
            Err(RecvTimeoutError::Timeout) => {
                sink.dial();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let Item::Seen(seen) = item else { break };
        sink.dial();
        frame.clear();
        for &kind in kinds {
            payload.clear();
            message::encode(origin, &seen, kind, &mut payload);
            frames::data(&payload, &mut frame);
        }
        match sink.writer().map(|w| w.write_all(&frame)) {
            Some(Ok(())) => {
                if let Sink::File { failing: failing @ true, .. } = &mut sink {
                    *failing = false;
                    tracing::info!("dnstap: writing the file again");
                }
                stats.written.fetch_add(per_query, Ordering::Relaxed)
            }
            Some(Err(e)) => {
                sink.failed(&e);
                stats.dropped.fetch_add(per_query, Ordering::Relaxed)
            }
            None => stats.dropped.fetch_add(per_query, Ordering::Relaxed),
        };
        // When the queue has run dry, what was written reaches the reader now.
        next = queued.try_recv().ok();
        if next.is_none()
            && let Some(Err(e)) = sink.writer().map(|w| w.flush())
        {
            sink.failed(&e);
        }
    }
    sink.finish();
}
