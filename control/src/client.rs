//! A client of the control socket, as `vrouterctl` uses it.

use crate::api::{ApiError, Op, Request, Response};
use serde_json::Value;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long a client waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon answered with an error.
    #[error("{}: {}", .0.code, .0.message)]
    Api(ApiError),
    /// The socket failed, or the daemon sent something that is not a response.
    #[error("{0}")]
    Io(String),
    /// The daemon answered another request than the one sent.
    #[error("the daemon answered request {got} to request {sent}: not this call's answer")]
    WrongId {
        /// The id of the request sent.
        sent: Value,
        /// The id of the response.
        got: Value,
    },
}

/// A connection to the daemon.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl Client {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let fail = |e: io::Error| {
            ClientError::Io(format!(
                "cannot connect to {} ({e}): is vrouter running, with --socket {0}?",
                path.display()
            ))
        };
        let stream = UnixStream::connect(path).map_err(fail)?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(fail)?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone().map_err(fail)?),
            writer: stream,
            next_id: 1,
        })
    }

    /// Sends `op` (as of [`crate::api::API_VERSION`]) and waits for its answer, which must
    /// carry the request's id; an error the daemon could not tie to a request (`null` id:
    /// the line was too long, the daemon too busy) is that error.
    pub fn call(&mut self, op: Op) -> Result<Value, ClientError> {
        let id = Value::from(self.next_id);
        self.next_id += 1;
        let line = Request::new(id.clone(), op).to_line();
        let io = |e: io::Error| ClientError::Io(format!("control socket: {e}"));
        self.writer.write_all(&line).map_err(io)?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer).map_err(io)? == 0 {
            return Err(ClientError::Io("the daemon closed the connection".into()));
        }
        let response: Response = serde_json::from_str(&answer)
            .map_err(|e| ClientError::Io(format!("bad response from the daemon: {e}")))?;
        match (&response.id, &response.error) {
            (got, _) if *got == id => {}
            (Value::Null, Some(_)) => {}
            (got, _) => {
                return Err(ClientError::WrongId {
                    sent: id,
                    got: got.clone(),
                })
            }
        }
        response.into_result().map_err(ClientError::Api)
    }
}
