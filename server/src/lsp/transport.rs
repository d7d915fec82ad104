//! A guard in front of tower-lsp-server's reader. Its framed reader stops reading for
//! good after the first message it cannot decode, which would leave the server deaf after
//! one bad message. Here every incoming frame is checked first; a frame that is not a
//! JSON-RPC message is replaced by a `promptls/invalidMessage` request that the server
//! answers with the JSON-RPC error due (parse error or invalid request), so the client
//! gets its error and the server keeps serving.

use memchr::memmem;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The method of the stand-in request for a bad frame.
pub const INVALID_MESSAGE: &str = "promptls/invalidMessage";

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;

/// Copies frames from `input` to `output`, replacing bad ones, until `input` ends.
pub async fn guard(mut input: impl AsyncRead + Unpin, mut output: impl AsyncWrite + Unpin) {
    let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Frame everything already buffered.
        loop {
            match next_frame(&buffer) {
                Frame::Incomplete => break,
                Frame::Message { consumed, body } => {
                    let replacement = check(body);
                    let ok = match replacement {
                        None => write_frame(&mut output, body).await,
                        Some(stand_in) => {
                            write_frame(&mut output, stand_in.to_string().as_bytes()).await
                        }
                    };
                    buffer.drain(..consumed);
                    if !ok {
                        return;
                    }
                }
                Frame::Garbage { consumed, reason } => {
                    tracing::warn!("skipped {consumed} bytes of input: {reason}");
                    buffer.drain(..consumed);
                    let stand_in = invalid(Value::Null, PARSE_ERROR, &reason);
                    if !write_frame(&mut output, stand_in.to_string().as_bytes()).await {
                        return;
                    }
                }
            }
        }
        match input.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn write_frame(output: &mut (impl AsyncWrite + Unpin), body: &[u8]) -> bool {
    let header = format!("Content-Length: {}\r\n\r\n", body.len());
    output.write_all(header.as_bytes()).await.is_ok()
        && output.write_all(body).await.is_ok()
        && output.flush().await.is_ok()
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
}

/// Headers larger than this are not headers.
const MAX_HEADER: usize = 8 * 1024;

fn next_frame(buffer: &[u8]) -> Frame<'_> {
    let Some(end) = memmem::find(buffer, b"\r\n\r\n") else {
        if buffer.len() > MAX_HEADER {
            return garbage(buffer, "a header longer than 8 KiB");
        }
        return Frame::Incomplete;
    };
    let header = &buffer[..end];
    let mut length = None;
    for line in header.split(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        match line.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                length = value.trim().parse::<usize>().ok();
            }
            Some((name, _)) if name.trim().eq_ignore_ascii_case("content-type") => {}
            _ => return garbage(buffer, &format!("not a header line: {line:?}")),
        }
    }
    let Some(length) = length else {
        return garbage(buffer, "a header without a valid Content-Length");
    };
    let start = end + 4;
    if buffer.len() < start + length {
        return Frame::Incomplete;
    }
    Frame::Message {
        consumed: start + length,
        body: &buffer[start..start + length],
    }
}

fn garbage<'a>(buffer: &'a [u8], reason: &str) -> Frame<'a> {
    // Resume at the next header after this position (never at 0: that loops).
    let consumed = memmem::find(&buffer[1..], b"Content-Length")
        .map(|i| i + 1)
        .unwrap_or(buffer.len());
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
