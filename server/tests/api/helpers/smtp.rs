//! The SMTP side of the relay stand-ins (`delivery`, `attacks_appeals`, `processes::SmtpSink`):
//! one session as a relay answers it, each message handed to the stand-in that keeps it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// One message as the relay got it: the envelope and the DATA, dot-stuffing undone.
#[derive(Clone, Debug)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
}

/// Answers one sender on `stream` until it quits or hangs up. Every complete message goes to
/// `keep`, which says whether the relay accepts it (250) or defers it (451). A sender that dies
/// in the middle of a message delivers nothing.
pub async fn session(
    stream: TcpStream,
    mut keep: impl FnMut(Received) -> bool,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write
        .write_all(b"220 sink.test ESMTP test relay\r\n")
        .await?;
    let (mut mail_from, mut rcpt_to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            write.write_all(b"250 sink.test\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = command["MAIL FROM:".len()..].trim().to_string();
            rcpt_to.clear();
            write.write_all(b"250 2.1.0 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            rcpt_to.push(command["RCPT TO:".len()..].trim().to_string());
            write.write_all(b"250 2.1.5 OK\r\n").await?;
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            let data = data.strip_suffix("\r\n").unwrap_or(&data).to_string();
            let received = Received {
                mail_from: mail_from.clone(),
                rcpt_to: rcpt_to.clone(),
                data,
            };
            if keep(received) {
                write.write_all(b"250 2.0.0 queued\r\n").await?;
            } else {
                write.write_all(b"451 4.3.0 try again later\r\n").await?;
            }
        } else if upper == "RSET" || upper == "NOOP" {
            write.write_all(b"250 2.0.0 OK\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            write
                .write_all(b"502 5.5.2 command not recognised\r\n")
                .await?;
        }
    }
}

impl Received {
    /// The value of header `name` (any case), if the message has it.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        head.split("\r\n")
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].to_string())
    }

    /// The body, with `\n` line ends.
    pub fn body(&self) -> String {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.replace("\r\n", "\n"))
            .unwrap_or_default()
    }
}

/// A relay listening on a free loopback port.
pub struct Relay {
    pub port: u16,
    /// How many connections it took.
    pub connections: Arc<AtomicUsize>,
    pub task: JoinHandle<()>,
}

/// Starts a relay: one `session` per connection (ended after `limit`), each message to `keep`.
pub async fn start<K>(limit: Duration, keep: K) -> Relay
where
    K: FnMut(Received) -> bool + Clone + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections: Arc<AtomicUsize> = Arc::default();
    let counted = connections.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let keep = keep.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(limit, session(stream, keep)).await;
            });
        }
    });
    Relay {
        port,
        connections,
        task,
    }
}
