//! The JSON schema of the control protocol, generated from its types: what a client may
//! send ([`Request`]) and what the daemon answers ([`Response`], its `ok` a [`Reply`]).
//! It is committed as `control/api-schema.json`; a test fails when the types change and
//! the file does not.
//!
//! [`Reply`]: super::Reply

use super::{Request, Response, API_VERSION};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The schema of one line on the control socket: a request or a response (JSON Schema
/// 2020-12), every type they use under `$defs`.
pub fn schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let request = generator.subschema_for::<Request>();
    let response = generator.subschema_for::<Response>();
    let defs = generator.take_definitions(true);
    let mut doc = Map::new();
    let mut put = |key: &str, value: Value| doc.insert(key.to_owned(), value);
    put(
        "$schema",
        "https://json-schema.org/draft/2020-12/schema".into(),
    );
    put("title", "vrouter control protocol".into());
    put(
        "description",
        format!(
            "One JSON object per line on the control socket: a Request from the client, a \
             Response from the daemon. API version {API_VERSION}."
        )
        .into(),
    );
    put("x-api-version", API_VERSION.into());
    put("anyOf", Value::Array(vec![request.into(), response.into()]));
    put("$defs", Value::Object(defs));
    Value::Object(doc)
}
