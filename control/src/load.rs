//! Loading a topology from TOML: parse (errors with file:line:col), then validate.

use crate::model::Topology;
use crate::validate::{lines, ValidationError};
use std::path::Path;

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The text is not TOML of the expected shape: `file:line:col: message`.
    #[error("{0}")]
    Parse(String),
    /// The model is inconsistent: every problem found, one a line.
    #[error("{}", lines(.0))]
    Invalid(Vec<ValidationError>),
}

impl LoadError {
    /// Every message, one per problem.
    pub fn messages(&self) -> Vec<String> {
        match self {
            LoadError::Invalid(errors) => errors.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}

/// Reads, parses and validates the topology in the file at `path`; error messages name
/// the path as given.
pub fn load_file(path: impl AsRef<Path>) -> Result<Topology, LoadError> {
    let path = path.as_ref();
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: origin.clone(),
        source,
    })?;
    load_str(&text, &origin)
}

/// Parses and validates a topology from `text`; `origin` names it in error messages.
pub fn load_str(text: &str, origin: &str) -> Result<Topology, LoadError> {
    let mut topo: Topology =
        toml::from_str(text).map_err(|e| LoadError::Parse(parse_message(text, origin, &e)))?;
    topo.origin = Some(origin.to_owned());
    topo.name_unnamed_rules();
    topo.validate().map_err(LoadError::Invalid)?;
    Ok(topo)
}

/// `origin:line:col: message` (1-based) for a TOML error, `origin: message` without a span.
fn parse_message(text: &str, origin: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    let Some(span) = e.span() else {
        return format!("{origin}: {message}");
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("{origin}:{line}:{col}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_carry_line_and_column() {
        let text = "[[network]]\nid = \"n1\"\nsegmentation = 2\n";
        let err = load_str(text, "x.toml").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("x.toml:3:1: unknown field `segmentation`"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_types_are_parse_errors() {
        let text = "[[network]]\nid = \"n1\"\nlocal_vlan = \"ten\"\n";
        let msg = load_str(text, "x.toml").unwrap_err().to_string();
        assert!(
            msg.starts_with("x.toml:3:14: invalid type: string"),
            "{msg}"
        );
    }

    #[test]
    fn missing_files_name_the_path() {
        let err = load_file("/nonexistent/vr.toml").unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/vr.toml: "),
            "{err}"
        );
    }
}
