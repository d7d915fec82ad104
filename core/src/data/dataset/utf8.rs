//! Checking that a dataset is UTF-8 while it streams, at the offset of the first bad byte.

use std::io::Read;

use super::StreamError;

/// Passes bytes through, failing with `NOT_UTF8` (and remembering where) at the first
/// byte that is not UTF-8; a character cut between two reads is checked with the next.
pub(super) struct Utf8Reader<R> {
    inner: R,
    /// The file offset of the first byte not yet known to be valid (`pending`'s start).
    offset: u64,
    /// The start of a character the last read cut off.
    pending: Vec<u8>,
}

/// The message of the `io::Error` a `Utf8Reader` fails with; the offset is in the
/// error's payload.
const NOT_UTF8: &str = "not UTF-8";

#[derive(Debug)]
struct NotUtf8(u64);

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{NOT_UTF8} (byte {})", self.0)
    }
}

impl std::error::Error for NotUtf8 {}

impl<R> Utf8Reader<R> {
    pub(super) fn new(inner: R) -> Self {
        Utf8Reader {
            inner,
            offset: 0,
            pending: Vec::new(),
        }
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let bad = |at: u64| std::io::Error::new(std::io::ErrorKind::InvalidData, NotUtf8(at));
        if n == 0 {
            return if self.pending.is_empty() {
                Ok(0)
            } else {
                Err(bad(self.offset))
            };
        }
        self.pending.extend_from_slice(&buf[..n]);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => return Err(bad(self.offset + e.valid_up_to() as u64)),
        };
        self.offset += valid as u64;
        self.pending.drain(..valid);
        Ok(n)
    }
}

/// The `StreamError` of an I/O error, telling a `Utf8Reader`'s apart.
pub(super) fn io_error(e: std::io::Error) -> StreamError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<NotUtf8>())
    {
        Some(NotUtf8(at)) => StreamError::NotUtf8(*at),
        None => StreamError::Io(e),
    }
}
