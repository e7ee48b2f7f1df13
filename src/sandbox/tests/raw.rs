//! A raw HTTP/1.1 connection, for what a client library hides.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

pub(super) struct RawConn {
    pub(super) stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawConn {
    pub(super) async fn open(sb: &Sandbox) -> RawConn {
        RawConn {
            stream: TcpStream::connect(sb.addr()).await.unwrap(),
            buffer: Vec::new(),
        }
    }

    pub(super) fn request(line: &str) -> String {
        format!("{line}\r\nHost: sandbox\r\nAuthorization: Bearer {KEY}\r\n\r\n")
    }

    pub(super) async fn send(&mut self, line: &str) {
        self.stream
            .write_all(Self::request(line).as_bytes())
            .await
            .unwrap();
    }

    /// The response head, and whatever followed it in the buffer.
    pub(super) async fn read_head(&mut self) -> (String, Vec<u8>) {
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buffer[..end].to_vec()).unwrap();
                let rest = self.buffer.split_off(end + 4);
                self.buffer.clear();
                return (head, rest);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before a response head");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// One whole response with a Content-Length; bytes after it stay buffered.
    pub(super) async fn read_response(&mut self) -> (u16, Vec<u8>) {
        let (head, mut rest) = self.read_head().await;
        let status: u16 = head[9..12].parse().unwrap();
        let len: usize = header_value(&head, "content-length")
            .unwrap()
            .parse()
            .unwrap();
        while rest.len() < len {
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed mid-body");
            rest.extend_from_slice(&chunk[..n]);
        }
        self.buffer = rest.split_off(len);
        (status, rest)
    }

    /// Everything until the server closes the connection (a reset counts as closed).
    pub(super) async fn read_to_end(&mut self, mut already: Vec<u8>) -> Vec<u8> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return already,
                Ok(n) => already.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

pub(super) fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
