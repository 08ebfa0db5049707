//! Finding a resource by id or by name, as the neutron CLI does: an exact id wins, else
//! the one resource with that name; none is "not found", several are ambiguous.

use crate::api::ApiError;

/// The index of the item of `items` whose id is `key`, or else whose name is `key`.
/// `kind` names the resource kind in errors (`network`, `port`, …).
pub(super) fn position<T>(
    items: &[T],
    key: &str,
    kind: &str,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> Option<&str>,
) -> Result<usize, ApiError> {
    if let Some(i) = items.iter().position(|x| id(x) == key) {
        return Ok(i);
    }
    let named: Vec<usize> = (0..items.len())
        .filter(|&i| !key.is_empty() && name(&items[i]) == Some(key))
        .collect();
    match named[..] {
        [i] => Ok(i),
        [] => Err(ApiError::not_found(format!(
            "no {kind} has id or name {key:?}"
        ))),
        _ => {
            let ids: Vec<&str> = named.iter().map(|&i| id(&items[i])).collect();
            Err(ApiError::conflict(format!(
                "several {kind}s are named {key:?} ({}): use an id",
                ids.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    #[test]
    fn ids_win_names_must_be_unique() {
        let items = [("a", "x"), ("b", "x"), ("c", "a"), ("d", "y")];
        let find = |k| position(&items, k, "thing", |t| t.0, |t| Some(t.1));
        assert_eq!(find("a"), Ok(0));
        assert_eq!(find("y"), Ok(3));
        assert_eq!(find("x").unwrap_err().code, ErrorCode::Conflict);
        assert_eq!(find("z").unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(find("").unwrap_err().code, ErrorCode::NotFound);
    }
}
