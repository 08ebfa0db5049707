//! The control protocol: one JSON request per line, one JSON response per line.
//!
//! `{"id":1,"op":"port.create","args":{…}}` is answered by `{"id":1,"ok":…}` or
//! `{"id":1,"error":{"code":"conflict","message":"…"}}`. The `id` is echoed as sent (any
//! JSON value; `null` when the request could not be read). A request may carry
//! `"api_version": N`: one for another version than [`API_VERSION`] is refused with
//! `unsupported_version`; without it the request is taken as of this version. The types
//! here and in [`reply`] are the protocol; [`schema`] describes them as a JSON schema
//! (committed as `control/api-schema.json`).

mod conntrack;
mod op;
mod reply;
mod schema;
mod trace;

pub use conntrack::*;
pub use op::*;
pub use reply::*;
pub use schema::schema;
pub use trace::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the control protocol this daemon speaks; it changes when a request or
/// an answer changes in a way an older client or daemon would misread.
pub const API_VERSION: u32 = 1;

/// The daemon's own version, as `hello` tells it.
pub const DAEMON_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Longest request line the server reads, in bytes (1 MiB).
pub const MAX_REQUEST: usize = 1 << 20;

/// What went wrong, as a machine-readable class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The change clashes with the state: duplicate id, address in use, resource in use.
    Conflict,
    /// A resource named by the request does not exist.
    NotFound,
    /// The change would make the model invalid (the config file's rules).
    Invalid,
    /// The request is not understood: invalid JSON, unknown operation, missing or
    /// mistyped field.
    BadRequest,
    /// The request line is over [`MAX_REQUEST`] bytes.
    TooLarge,
    /// The appliance failed (persistence, data plane).
    Internal,
    /// The request is for another API version than the daemon's ([`API_VERSION`]).
    UnsupportedVersion,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            ErrorCode::Conflict => "conflict",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Invalid => "invalid",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Internal => "internal",
            ErrorCode::UnsupportedVersion => "unsupported_version",
        };
        f.write_str(name)
    }
}

/// An error answer: its class and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The class.
    pub code: ErrorCode,
    /// What happened, in words.
    pub message: String,
}

impl ApiError {
    /// An error of class `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// [`ErrorCode::Conflict`].
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Conflict, message)
    }

    /// [`ErrorCode::NotFound`].
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// [`ErrorCode::Invalid`].
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Invalid, message)
    }

    /// [`ErrorCode::BadRequest`].
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    /// [`ErrorCode::Internal`].
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Internal, message)
    }
}

/// A request: `{"id": …, "api_version": 1, "op": "…", "args": {…}}` (`args` may be left
/// out when the operation takes none).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct Request {
    /// Echoed in the response (any JSON value; `null` when absent).
    #[serde(default)]
    pub id: Value,
    /// The API version the client speaks; absent: the daemon's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<u32>,
    /// What to do.
    #[serde(flatten)]
    pub op: Op,
}

impl Request {
    /// A request of this API version.
    pub fn new(id: Value, op: Op) -> Request {
        Request {
            id,
            api_version: Some(API_VERSION),
            op,
        }
    }

    /// The request as one line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        // Plain JSON values and strings: serializing to a Vec cannot fail.
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// Refuses a request for another API version than [`API_VERSION`].
    pub fn check_version(&self) -> Result<(), ApiError> {
        match self.api_version {
            Some(v) if v != API_VERSION => {
                let age = if v < API_VERSION { "older" } else { "newer" };
                Err(ApiError::new(
                    ErrorCode::UnsupportedVersion,
                    format!(
                        "unsupported API version {v}: this daemon (vrouter {DAEMON_VERSION}) \
                         speaks API version {API_VERSION}, {age} requests are refused; use \
                         a client of the daemon's release"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The envelope before the operation is decoded: decoding it apart lets an unknown
/// operation or a bad argument be answered with the request's id.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    api_version: Value,
    op: Option<Value>,
    #[serde(default)]
    args: Value,
}

/// Decodes one request line; on failure returns the id (if it could be read) and the error.
pub fn parse_request(line: &[u8]) -> Result<Request, (Value, ApiError)> {
    let bad = |msg: String| (Value::Null, ApiError::bad_request(msg));
    let value: Value =
        serde_json::from_slice(line).map_err(|e| bad(format!("invalid JSON request: {e}")))?;
    if !value.is_object() {
        return Err(bad(format!(
            "invalid JSON request: {value} is not an object"
        )));
    }
    let env: Envelope =
        serde_json::from_value(value).map_err(|e| bad(format!("invalid JSON request: {e}")))?;
    let id = env.id;
    let fail = |msg: String| Err((id.clone(), ApiError::bad_request(msg)));
    let op = match env.op {
        Some(Value::String(op)) => op,
        Some(other) => return fail(format!("\"op\" must be a string, not {other}")),
        None => return fail("missing \"op\"".to_owned()),
    };
    let api_version = match env.api_version {
        Value::Null => None,
        Value::Number(n) => match n.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(v) => Some(v),
            None => return fail(format!("\"api_version\" must be a version number, not {n}")),
        },
        other => return fail(format!("\"api_version\" must be a number, not {other}")),
    };
    let args = match env.args {
        Value::Null => Value::Object(Default::default()),
        args @ Value::Object(_) => args,
        other => return fail(format!("\"args\" must be an object, not {other}")),
    };
    let mut tagged = serde_json::Map::new();
    tagged.insert("op".to_owned(), Value::String(op.clone()));
    tagged.insert("args".to_owned(), args);
    match serde_json::from_value::<Op>(Value::Object(tagged)) {
        Ok(op) => Ok(Request {
            id,
            api_version,
            op,
        }),
        // serde reports an unknown tag as "unknown variant `<op>`, expected one of …";
        // argument values never contain the dots operation names have.
        Err(e)
            if e.to_string()
                .starts_with(&format!("unknown variant `{op}`")) =>
        {
            fail(format!("unknown operation {op:?}"))
        }
        Err(e) => fail(format!("{op}: {e}")),
    }
}

/// A response as written to the wire: `ok` or `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Response {
    /// The request's id; `null` when the request could not be read.
    pub id: Value,
    /// The result, on success: the [`Reply`] of the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Reply>")]
    pub ok: Option<Value>,
    /// The error, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl Response {
    /// The response to request `id` with `result`.
    pub fn new(id: Value, result: Result<Value, ApiError>) -> Response {
        match result {
            Ok(v) => Response {
                id,
                ok: Some(v),
                error: None,
            },
            Err(e) => Response {
                id,
                ok: None,
                error: Some(e),
            },
        }
    }

    /// The response to request `id` with an operation's `result`.
    pub fn reply(id: Value, result: Result<Reply, ApiError>) -> Response {
        let value = result.and_then(|r| {
            serde_json::to_value(r).map_err(|e| ApiError::internal(format!("answer: {e}")))
        });
        Response::new(id, value)
    }

    /// The response as one line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        // Serializing plain JSON values to a Vec cannot fail.
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// The result, or the error.
    pub fn into_result(self) -> Result<Value, ApiError> {
        match (self.ok, self.error) {
            (_, Some(e)) => Err(e),
            (ok, None) => Ok(ok.unwrap_or(Value::Null)),
        }
    }
}
