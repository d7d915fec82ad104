//! A guard in front of tower-lsp-server's reader. Its framed reader stops reading for
//! good after the first message it cannot decode, which would leave the server deaf after
//! one bad message. Here every incoming frame is checked first; a frame that is not a
//! JSON-RPC message is replaced by a `promptls/invalidMessage` request that the server
//! answers with the JSON-RPC error due (parse error or invalid request), so the client
//! gets its error and the server keeps serving.
//!
//! Hostile framing never panics and never makes the server buffer without bound: a
//! `Content-Length` that is not a byte count (negative, overflowing, not a number, two
//! different ones) or a header block that is not `Name: value` lines ending in CRLF CRLF
//! is skipped up to the next `Content-Length`; a frame announcing more than `MAX_FRAME`
//! bytes is refused at its header and its body is dropped as it streams by (never
//! held), up to the announced length or to the next header line, whichever comes first
//! (a JSON body cannot hold `Content-Length: N` followed by a raw CRLF, so a header
//! inside the announced span means the length was a lie).

use memchr::memmem;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The method of the stand-in request for a bad frame.
pub const INVALID_MESSAGE: &str = "promptls/invalidMessage";

/// The largest message body the server accepts: 64 MiB. The largest legitimate message is
/// a `didOpen` or full-text `didChange` of the biggest document one edits (the tests use
/// 10 MB documents); JSON escaping can grow a document's text several times, so this
/// leaves room for documents of tens of megabytes. Larger frames are refused without
/// being buffered.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;

/// Copies frames from `input` to `output`, replacing bad ones, until `input` ends.
pub async fn guard(mut input: impl AsyncRead + Unpin, mut output: impl AsyncWrite + Unpin) {
    let mut framer = Framer::default();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        for body in framer.push(&chunk[..n]) {
            if !write_frame(&mut output, &body).await {
                return;
            }
        }
    }
}

async fn write_frame(output: &mut (impl AsyncWrite + Unpin), body: &[u8]) -> bool {
    let header = format!("Content-Length: {}\r\n\r\n", body.len());
    output.write_all(header.as_bytes()).await.is_ok()
        && output.write_all(body).await.is_ok()
        && output.flush().await.is_ok()
}

/// The framing state between reads: bytes not framed yet, and what is left to drop of a
/// refused frame.
#[derive(Default)]
pub struct Framer {
    buffer: Vec<u8>,
    /// Bytes of a refused (oversized) frame's body still to drop.
    skip: usize,
    /// The announced length of a refused frame not answered yet.
    refused: Option<usize>,
}

/// Bytes kept at the end of a dropped span, in case a header begins there.
const HEADER_TAIL: usize = 64;

impl Framer {
    /// Takes the next bytes read; returns the message bodies to pass on, in order (good
    /// messages as they came, stand-ins for bad ones). Never holds more than one frame
    /// of at most `MAX_FRAME` bytes plus its header and one read.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if let Some(length) = self.refused {
                // Answer once the body's start (where clients write the `id`) is here.
                let span = self.skip.min(self.buffer.len());
                let header = find_header(&self.buffer).filter(|at| *at < span);
                let seen = header.unwrap_or(span);
                if seen < 1024 && header.is_none() && self.skip > self.buffer.len() {
                    break;
                }
                let reason = format!(
                    "a message of {length} bytes is over the {} MiB limit; it was skipped",
                    MAX_FRAME >> 20
                );
                tracing::warn!("{reason}");
                let id = peek_id(&self.buffer[..seen.min(1024)]);
                out.push(
                    invalid(id, INVALID_REQUEST, &reason)
                        .to_string()
                        .into_bytes(),
                );
                self.refused = None;
            }
            if self.skip > 0 {
                if self.skip_some() {
                    continue;
                }
                break;
            }
            match next_frame(&self.buffer) {
                Frame::Incomplete => break,
                Frame::Message { consumed, body } => {
                    out.push(match check(body) {
                        None => body.to_vec(),
                        Some(stand_in) => stand_in.to_string().into_bytes(),
                    });
                    self.buffer.drain(..consumed);
                }
                Frame::Garbage { consumed, reason } => {
                    tracing::warn!("skipped {consumed} bytes of input: {reason}");
                    self.buffer.drain(..consumed);
                    out.push(
                        invalid(Value::Null, PARSE_ERROR, &reason)
                            .to_string()
                            .into_bytes(),
                    );
                }
                Frame::TooLarge { header, length } => {
                    self.buffer.drain(..header);
                    self.skip = length;
                    self.refused = Some(length);
                }
            }
        }
        // A large frame passed through; do not keep its buffer for ever.
        if self.buffer.capacity() > 1 << 20 && self.buffer.len() < 1 << 16 {
            self.buffer.shrink_to(1 << 16);
        }
        out
    }

    /// Drops what is buffered of a refused frame's body. `true` when the body is over
    /// (all of it dropped, or a header found inside it), `false` when more must be read.
    fn skip_some(&mut self) -> bool {
        let span = self.skip.min(self.buffer.len());
        if let Some(at) = find_header(&self.buffer).filter(|at| *at < span) {
            tracing::warn!(
                "a refused message ended {} bytes early, at a header",
                self.skip - at
            );
            self.buffer.drain(..at);
            self.skip = 0;
            return true;
        }
        if self.skip <= self.buffer.len() {
            self.buffer.drain(..self.skip);
            self.skip = 0;
            return true;
        }
        let keep = HEADER_TAIL.min(self.buffer.len());
        let dropped = self.buffer.len() - keep;
        self.buffer.drain(..dropped);
        self.skip -= dropped;
        false
    }

    /// Bytes held (for tests and the fuzz target: memory stays bounded).
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

/// What `input`, read in pieces of `chunk` bytes, becomes: the message bodies passed on
/// to the server. For tests and the `transport` fuzz target.
pub fn frame_all(input: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut framer = Framer::default();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        out.extend(framer.push(piece));
        assert!(framer.buffered() <= MAX_FRAME + MAX_HEADER + 4 + chunk.max(1));
    }
    out
}

/// Where a `Content-Length: N` CRLF header line starts in `bytes`, if anywhere.
fn find_header(bytes: &[u8]) -> Option<usize> {
    const NAME: &[u8] = b"Content-Length:";
    memmem::find_iter(bytes, NAME).find(|at| {
        let rest = &bytes[at + NAME.len()..];
        let blanks = rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let rest = &rest[blanks..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        digits > 0 && rest[digits..].starts_with(b"\r\n")
    })
}

/// The `id` of a message from the start of its body, when it comes before `params`
/// (as clients write it); else null.
fn peek_id(start: &[u8]) -> Value {
    let Some(at) = memmem::find(start, b"\"id\"") else {
        return Value::Null;
    };
    if memmem::find(&start[..at], b"\"params\"").is_some() {
        return Value::Null;
    }
    let rest = &start[at + 4..];
    let rest = rest.trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b":") else {
        return Value::Null;
    };
    let rest = rest.trim_ascii_start();
    let end = if rest.first() == Some(&b'"') {
        match rest[1..].iter().position(|b| *b == b'"' || *b == b'\\') {
            Some(i) if rest[1 + i] == b'"' => i + 2,
            _ => return Value::Null,
        }
    } else {
        rest.iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'-')
            .count()
    };
    match serde_json::from_slice::<Value>(&rest[..end]) {
        Ok(id @ Value::String(_)) => id,
        Ok(Value::Number(n)) if n.is_i64() => Value::Number(n),
        _ => Value::Null,
    }
}

enum Frame<'a> {
    Incomplete,
    Message {
        consumed: usize,
        body: &'a [u8],
    },
    /// Bytes that are not a frame header, up to the next `Content-Length` (or the end).
    Garbage {
        consumed: usize,
        reason: String,
    },
    /// A frame over `MAX_FRAME`: its header is `..header`, its body `length` bytes.
    TooLarge {
        header: usize,
        length: usize,
    },
}

/// Headers larger than this are not headers.
const MAX_HEADER: usize = 8 * 1024;

fn next_frame(buffer: &[u8]) -> Frame<'_> {
    let Some(end) = memmem::find(buffer, b"\r\n\r\n") else {
        if buffer.len() > MAX_HEADER {
            return garbage(buffer, 1, "a header longer than 8 KiB");
        }
        return Frame::Incomplete;
    };
    if end > MAX_HEADER {
        return garbage(buffer, 1, "a header longer than 8 KiB");
    }
    let start = end + 4;
    let header = &buffer[..end];
    let mut length: Option<usize> = None;
    let mut offset = 0;
    for line in header.split(|b| *b == b'\n') {
        // A bad line is skipped up to the next `Content-Length` after its start.
        let from = offset + 1;
        offset += line.len() + 1;
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        match line.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                let Ok(value) = value.trim().parse::<usize>() else {
                    let reason = format!(
                        "a Content-Length that is not a byte count: {:?}",
                        value.trim()
                    );
                    return garbage(buffer, from, &reason);
                };
                if length.is_some_and(|l| l != value) {
                    return garbage(buffer, from, "two different Content-Length headers");
                }
                length = Some(value);
            }
            Some((name, _)) if name.trim().eq_ignore_ascii_case("content-type") => {}
            _ => return garbage(buffer, from, &format!("not a header line: {line:?}")),
        }
    }
    let Some(length) = length else {
        return garbage(buffer, start, "a header without a Content-Length");
    };
    if length > MAX_FRAME {
        return Frame::TooLarge {
            header: start,
            length,
        };
    }
    // No overflow: `start` is within the buffer and `length` at most MAX_FRAME.
    if buffer.len() < start + length {
        return Frame::Incomplete;
    }
    Frame::Message {
        consumed: start + length,
        body: &buffer[start..start + length],
    }
}

/// Skips to the next `Content-Length` at or after `from` (at least 1 byte, never 0: that
/// loops); without one, skips what is buffered but a tail that may begin the next one.
fn garbage<'a>(buffer: &'a [u8], from: usize, reason: &str) -> Frame<'a> {
    const NAME: &[u8] = b"Content-Length";
    let from = from.clamp(1, buffer.len().max(1));
    let consumed = memmem::find(&buffer[from..], NAME)
        .map(|i| i + from)
        .unwrap_or_else(|| {
            let tail = (1..NAME.len())
                .rev()
                .find(|k| buffer.ends_with(&NAME[..*k]))
                .unwrap_or(0);
            (buffer.len() - tail).max(from)
        });
    Frame::Garbage {
        consumed,
        reason: reason.to_string(),
    }
}

/// `None` if `body` is a message tower-lsp-server can decode, else the stand-in.
fn check(body: &[u8]) -> Option<Value> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            return Some(invalid(
                Value::Null,
                PARSE_ERROR,
                &format!("invalid JSON: {e}"),
            ))
        }
    };
    let id = value.get("id").cloned();
    let id_ok = match &id {
        None | Some(Value::Null) | Some(Value::String(_)) => true,
        Some(Value::Number(n)) => n.is_i64(),
        _ => false,
    };
    let reply_id = if id_ok {
        id.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let object = match value.as_object() {
        Some(o) => o,
        None => {
            return Some(invalid(
                Value::Null,
                INVALID_REQUEST,
                "a message must be a JSON object",
            ))
        }
    };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Some(invalid(
            reply_id,
            INVALID_REQUEST,
            "`jsonrpc` must be \"2.0\"",
        ));
    }
    if !id_ok {
        return Some(invalid(
            Value::Null,
            INVALID_REQUEST,
            "`id` must be an integer, a string or null",
        ));
    }
    match object.get("method") {
        Some(Value::String(_)) => None,
        Some(_) => Some(invalid(
            reply_id,
            INVALID_REQUEST,
            "`method` must be a string",
        )),
        None => {
            // A response to one of the server's requests.
            let ok = id.is_some()
                && match (object.get("result"), object.get("error")) {
                    (Some(_), None) => true,
                    (None, Some(error)) => {
                        error.get("code").is_some_and(Value::is_i64)
                            && error.get("message").is_some_and(Value::is_string)
                    }
                    _ => false,
                };
            if ok {
                None
            } else {
                Some(invalid(
                    reply_id,
                    INVALID_REQUEST,
                    "neither a request nor a response",
                ))
            }
        }
    }
}

/// The stand-in request: answered with error `code` and `message`, under `id`.
fn invalid(id: Value, code: i64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": INVALID_MESSAGE,
        "params": {"code": code, "message": message},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(input: &[u8]) -> Vec<Value> {
        let (mut write, read) = tokio::io::duplex(1 << 20);
        let input = input.to_vec();
        let mut out = Vec::new();
        tokio::join!(guard(&input[..], &mut write), async {});
        drop(write);
        let mut read = read;
        read.read_to_end(&mut out).await.unwrap();
        let mut values = Vec::new();
        let mut rest = &out[..];
        while let Frame::Message { consumed, body } = next_frame(rest) {
            values.push(serde_json::from_slice(body).unwrap());
            rest = &rest[consumed..];
        }
        assert!(rest.is_empty());
        values
    }

    fn frame(body: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    #[tokio::test]
    async fn good_messages_pass_and_bad_ones_become_stand_ins() {
        let mut input = Vec::new();
        input.extend(frame(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
        ));
        input.extend(frame(r#"{"jsonrpc"#));
        input.extend(b"garbage line\r\n\r\n");
        input.extend(frame(r#"{"jsonrpc":"2.0","id":7,"method":5}"#));
        input.extend(frame(r#"[1,2]"#));
        input.extend(frame(r#"{"jsonrpc":"2.0","id":2,"result":null}"#));
        let out = run(&input).await;
        assert_eq!(out.len(), 6, "{out:?}");
        assert_eq!(out[0]["method"], "initialize");
        assert_eq!(out[1]["method"], INVALID_MESSAGE);
        assert_eq!(out[1]["params"]["code"], PARSE_ERROR);
        assert_eq!(out[2]["params"]["code"], PARSE_ERROR);
        assert_eq!(
            (out[3]["id"].clone(), out[3]["params"]["code"].clone()),
            (json!(7), json!(INVALID_REQUEST))
        );
        assert_eq!(out[4]["params"]["code"], INVALID_REQUEST);
        assert_eq!(out[5]["result"], Value::Null);
    }

    fn decoded(bodies: Vec<Vec<u8>>) -> Vec<Value> {
        bodies
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap())
            .collect()
    }

    const PING: &str = r#"{"jsonrpc":"2.0","id":99,"method":"shutdown"}"#;

    #[test]
    fn hostile_headers_never_panic_and_the_next_message_gets_through() {
        let cases: &[&[u8]] = &[
            b"Content-Length: 18446744073709551615\r\n\r\n{}",
            b"Content-Length: 18446744073709551616\r\n\r\n{}",
            b"Content-Length: 99999999999999999999999999\r\n\r\n{}",
            b"Content-Length: -5\r\n\r\n{}",
            b"Content-Length: five\r\n\r\n{}",
            b"Content-Length: \r\n\r\n{}",
            b"Content-Length: 0x10\r\n\r\n{}",
            b"Content-Type: x\r\n\r\n{}",
            b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            b"Content-Length: 2\nContent-Length: 2\n\n{}",
            b"Content-Length: 2\n\n{}",
            b"Content-Length: 2\r\r{}",
            b"Content-Length: 67108865\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":4,",
            b"\r\n\r\n",
            b"\xff\xfe: \x00\r\n\r\n",
        ];
        for bad in cases {
            for chunk in [1, 3, 7, 64, 1 << 16] {
                let mut input = bad.to_vec();
                input.extend(frame(PING));
                let out = decoded(frame_all(&input, chunk));
                let what = String::from_utf8_lossy(bad);
                assert_eq!(
                    out.last(),
                    Some(&serde_json::from_str(PING).unwrap()),
                    "{what:?} in chunks of {chunk}: {out:?}"
                );
                assert!(
                    out[..out.len() - 1]
                        .iter()
                        .all(|m| m["method"] == INVALID_MESSAGE),
                    "{what:?} in chunks of {chunk}: {out:?}"
                );
            }
        }
        // Duplicated but equal lengths are one frame.
        let dup = format!(
            "Content-Length: {0}\r\nContent-Length: {0}\r\n\r\n{PING}",
            PING.len()
        );
        assert_eq!(decoded(frame_all(dup.as_bytes(), 5)).len(), 1);
    }

    #[test]
    fn an_oversized_frame_is_refused_at_its_header_and_dropped_as_it_streams_by() {
        let length = MAX_FRAME + 10;
        let mut body = br#"{"jsonrpc":"2.0","id":"big","method":"x","params":{"t":""#.to_vec();
        body.resize(length - 3, b'a');
        body.extend(b"\"}}");
        assert_eq!(body.len(), length);
        let mut framer = Framer::default();
        let mut out = framer.push(format!("Content-Length: {length}\r\n\r\n").as_bytes());
        let mut most = 0;
        for piece in body.chunks(1 << 16) {
            out.extend(framer.push(piece));
            most = most.max(framer.buffered());
        }
        out.extend(framer.push(&frame(PING)));
        let out = decoded(out);
        assert!(most <= 1 << 17, "held {most} bytes");
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0]["id"], "big");
        assert_eq!(out[0]["params"]["code"], INVALID_REQUEST);
        assert!(out[0]["params"]["message"]
            .as_str()
            .unwrap()
            .contains("over the 64 MiB limit"));
        assert_eq!(out[1]["id"], 99);
    }

    #[test]
    fn a_frame_shorter_than_announced_ends_at_the_next_header() {
        // Announces 2^64-1 bytes, then the next message comes at once.
        let mut input = b"Content-Length: 18446744073709551615\r\n\r\n{\"id\":3}".to_vec();
        input.extend(frame(PING));
        for chunk in [1, 2, 10, 100] {
            let out = decoded(frame_all(&input, chunk));
            assert_eq!(out.len(), 2, "{out:?}");
            assert_eq!(
                (out[0]["id"].clone(), out[1]["id"].clone()),
                (json!(3), json!(99))
            );
        }
        // A header inside a JSON string is not a header (no raw CRLF in JSON strings).
        let text = r#"{"jsonrpc":"2.0","method":"x","params":{"t":"Content-Length: 5\r\n"}}"#;
        let out = decoded(frame_all(&frame(text), 4));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["method"], "x");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Whatever arrives, what is passed on is a sequence of well-formed frames that
        /// tower-lsp-server can decode (it stops reading at the first it cannot).
        #[test]
        fn any_input_yields_decodable_frames(
            chunks in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
                    proptest::prelude::Just(frame(r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#)),
                    proptest::prelude::Just(b"Content-Length: 5\r\n\r\n".to_vec()),
                    proptest::prelude::Just(b"\r\n\r\n".to_vec()),
                ],
                0..12,
            )
        ) {
            let input: Vec<u8> = chunks.concat();
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let out = runtime.block_on(run(&input));
            for message in out {
                let decoded: Result<tower_lsp_server::jsonrpc::Request, _> =
                    serde_json::from_value(message.clone());
                let is_response = message.get("result").is_some() || message.get("error").is_some();
                proptest::prop_assert!(decoded.is_ok() || is_response, "{message}");
            }
        }
    }
}
