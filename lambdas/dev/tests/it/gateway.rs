//! The dev server's gateway as clients meet API Gateway: an answer given before the body is read
//! (415, 413) never leaves a kept-alive connection dead; the body is read first, and a body over
//! the gateway's limit is answered with `Connection: close`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::{Server, token};

/// Status, headers (lower-case names) and body of a response.
type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// One response read from a kept-alive connection.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Reply> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::other("connection closed before a response"));
        }
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string())))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    Ok((status, headers, body))
}

fn send(stream: &mut TcpStream, head: &str, body: &[u8]) -> std::io::Result<()> {
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

#[test]
fn early_answers_keep_the_connection_usable() {
    let server = Server::start(&[]);
    let authority = server.api.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let health = format!("GET /v1/health HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    let bearer = format!("Authorization: Bearer {}", token(&server, "gateway"));

    // 415 without a look at the body, then 413 (over the API's 1 MiB), each followed by a request
    // on the same connection.
    for (content_type, size, status) in [("text/plain", 200_000, 415), ("application/json", 1024 * 1024 + 10, 413)] {
        let body = vec![b'x'; size];
        let head = format!(
            "POST /v1/notes HTTP/1.1\r\nHost: {authority}\r\n{bearer}\r\nContent-Type: {content_type}\r\nContent-Length: {size}\r\n\r\n"
        );
        send(&mut stream, &head, &body).unwrap();
        let (got, headers, body) = read_response(&mut stream).unwrap();
        assert_eq!(got, status, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("\"error\""));
        assert!(!headers.iter().any(|(n, v)| n == "connection" && v == "close"), "{headers:?}");
        send(&mut stream, &health, b"").unwrap();
        let (got, _, _) = read_response(&mut stream).expect("the kept-alive connection still answers");
        assert_eq!(got, 200);
    }

    // Over API Gateway's 10 MiB: 413, and the connection is closed as announced.
    let size = 10 * 1024 * 1024 + 1;
    let head = format!(
        "POST /v1/notes HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    );
    let mut stream = TcpStream::connect(&authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = send(&mut stream, &head, &vec![b'x'; size]);
    let (got, headers, _) = read_response(&mut stream).unwrap();
    assert_eq!(got, 413);
    assert!(headers.iter().any(|(n, v)| n == "connection" && v == "close"), "{headers:?}");
}
