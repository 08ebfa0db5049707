//! The control protocol: one JSON request per line, one JSON response per line.
//!
//! `{"id":1,"op":"port.create","args":{…}}` is answered by `{"id":1,"ok":…}` or
//! `{"id":1,"error":{"code":"conflict","message":"…"}}`. The `id` is echoed as sent (any
//! JSON value; `null` when the request could not be read).

mod conntrack;
mod op;

pub use conntrack::*;
pub use op::*;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest request line the server reads, in bytes (1 MiB).
pub const MAX_REQUEST: usize = 1 << 20;

/// What went wrong, as a machine-readable class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
        };
        f.write_str(name)
    }
}

/// An error answer: its class and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
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

/// A decoded request.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Echoed in the response.
    pub id: Value,
    /// What to do.
    pub op: Op,
}

impl Request {
    /// The request as one line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_value(&self.op).unwrap_or_default();
        if let Value::Object(map) = &mut v {
            map.insert("id".to_owned(), self.id.clone());
        }
        let mut line = serde_json::to_vec(&v).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// The envelope before the operation is decoded: decoding it apart lets an unknown
/// operation or a bad argument be answered with the request's id.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    id: Value,
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
    let args = match env.args {
        Value::Null => Value::Object(Default::default()),
        args @ Value::Object(_) => args,
        other => return fail(format!("\"args\" must be an object, not {other}")),
    };
    let tagged = serde_json::json!({ "op": op, "args": args });
    match serde_json::from_value::<Op>(tagged) {
        Ok(op) => Ok(Request { id, op }),
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

/// A response as written to the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The request's id.
    pub id: Value,
    /// The result, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
