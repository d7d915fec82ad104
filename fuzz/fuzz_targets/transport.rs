//! The language server's JSON-RPC framing (`lsp::transport`) on arbitrary bytes read in
//! arbitrary pieces: nothing may panic, what is held stays bounded (`frame_all` asserts
//! it), and every body passed on to tower-lsp-server is a JSON-RPC 2.0 object: a request
//! or notification (the stand-in for a bad frame is one) or a response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (chunk, input) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])) % 4096 + 1, rest),
        _ => (1, data),
    };
    for body in promptls::lsp::frame_all(input, chunk) {
        let message: Value = serde_json::from_slice(&body).expect("a body passed on is JSON");
        assert_eq!(message["jsonrpc"], "2.0", "{message}");
        let is_request = message["method"].is_string();
        let is_response = message.get("id").is_some()
            && (message.get("result").is_some() || message.get("error").is_some());
        assert!(is_request || is_response, "{message}");
        match message.get("id") {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(Value::Number(n)) => assert!(n.is_i64(), "{message}"),
            Some(other) => panic!("id {other} in {message}"),
        }
    }
});
