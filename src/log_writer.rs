//! Where log lines go: a thread that formats a line appends it to one shared buffer, and a
//! thread of its own writes what gathered in one `write(2)`, a couple of milliseconds after
//! the first line of each batch. No line is dropped: a buffer past [`MAX_QUEUED`] makes the
//! logging thread wait for the writer, and lines logged after the writer stopped are written
//! where they are logged.
//!
//! It replaces `tracing-appender`'s channel, whose writing thread, once the queue was
//! empty, spun with `sched_yield` before it slept and was woken by a futex for the next
//! line: under load that was about three `sched_yield`s and one wake-up per request, each
//! taking a core from the requests (bench/README.md, "The log writer and SQLite's shared
//! page cache"). Here a line costs one uncontended lock and a copy; the writer is woken
//! once per batch, and sleeps on a condition variable while nothing is logged.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer lets lines gather after the first one of a batch.
const GATHER: Duration = Duration::from_millis(2);
/// Queued bytes past which a logging thread waits for the writer.
const MAX_QUEUED: usize = 4 << 20;

struct Queue {
    lines: Vec<u8>,
    /// The writer has been told to stop (its guard was dropped).
    closed: bool,
    /// Logging threads waiting for room (std's condition variables make a system call
    /// for every notification, waiters or not).
    waiting: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when the queue stops being empty, and when it closes.
    filled: Condvar,
    /// Signalled when the writer has taken the queue.
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A thread that panicked while appending left whole lines or none: keep logging.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `tracing-subscriber` writer: each event's line is appended to the queue.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Keeps the writing thread; dropping it writes out what is queued and stops the thread.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the thread that writes the queued lines to `out`.
pub fn spawn(
    mut out: impl Write + Send + 'static,
    thread_name: &str,
) -> std::io::Result<(LogWriter, LogWriterGuard)> {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            lines: Vec::with_capacity(64 * 1024),
            closed: false,
            waiting: 0,
        }),
        filled: Condvar::new(),
        drained: Condvar::new(),
    });
    let writer = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name(thread_name.to_owned())
        .spawn(move || {
            let mut batch = Vec::with_capacity(64 * 1024);
            loop {
                let mut queue = writer.lock();
                while queue.lines.is_empty() && !queue.closed {
                    queue = writer
                        .filled
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if queue.lines.is_empty() {
                    return;
                }
                if !queue.closed {
                    drop(queue);
                    std::thread::sleep(GATHER);
                    queue = writer.lock();
                }
                std::mem::swap(&mut queue.lines, &mut batch);
                let waiting = queue.waiting > 0;
                drop(queue);
                if waiting {
                    writer.drained.notify_all();
                }
                // Nowhere to report a failed write of the log itself.
                let _ = out.write_all(&batch);
                let _ = out.flush();
                batch.clear();
            }
        })?;
    Ok((
        LogWriter {
            shared: Arc::clone(&shared),
        },
        LogWriterGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

impl Write for &LogWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut queue = self.shared.lock();
        while queue.lines.len() >= MAX_QUEUED && !queue.closed {
            queue.waiting += 1;
            queue = self
                .shared
                .drained
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
            queue.waiting -= 1;
        }
        if queue.closed {
            drop(queue);
            return std::io::stderr().write_all(line).map(|()| line.len());
        }
        let was_empty = queue.lines.is_empty();
        queue.lines.extend_from_slice(line);
        drop(queue);
        if was_empty {
            self.shared.filled.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = &'a LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Drop for LogWriterGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.filled.notify_all();
        self.shared.drained.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_whole_and_in_each_threads_order_by_the_time_the_guard_drops() {
        let sink = Sink::default();
        let (writer, guard) = spawn(sink.clone(), "test-log").unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        let line = format!("thread {t} line {i} {}\n", "x".repeat(i % 300));
                        (&writer).write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let mut next = [0usize; 4];
        for line in written.lines() {
            let mut words = line.split(' ');
            assert_eq!(words.next(), Some("thread"), "{line}");
            let t: usize = words.next().unwrap().parse().unwrap();
            assert_eq!(words.next(), Some("line"));
            let i: usize = words.next().unwrap().parse().unwrap();
            assert_eq!(i, next[t], "thread {t}'s lines out of order");
            assert_eq!(words.next().unwrap().len(), i % 300, "a line was cut");
            next[t] += 1;
        }
        assert_eq!(next, [5000; 4]);
    }

    #[test]
    fn a_line_logged_after_the_writer_stopped_is_not_lost_or_queued() {
        let sink = Sink::default();
        let (writer, guard) = spawn(sink.clone(), "test-log").unwrap();
        (&writer).write_all(b"before\n").unwrap();
        drop(guard);
        assert_eq!(&*sink.0.lock().unwrap(), b"before\n");
        // Written straight to standard error, not into a queue nobody reads.
        (&writer).write_all(b"after\n").unwrap();
        assert!(writer.shared.lock().lines.is_empty());
    }
}
