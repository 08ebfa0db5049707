//! Tables for people, as the neutron CLI prints them: `+----+------+` boxes, one row per
//! resource (lists) or one per field (shows), lists in a cell one item per line.

use serde_json::{Map, Value};
use std::fmt::Write;

/// Keys of nested objects that come first in a cell, in this order (Neutron's).
const KEY_ORDER: [&str; 6] = [
    "subnet_id",
    "ip_address",
    "start",
    "end",
    "destination",
    "nexthop",
];

/// A value as JSON text with Neutron's spacing (`{"subnet_id": "…", "ip_address": "…"}`).
fn inline(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k)
                .collect();
            let rank = |k: &str| {
                KEY_ORDER
                    .iter()
                    .position(|x| *x == k)
                    .unwrap_or(KEY_ORDER.len())
            };
            keys.sort_by_key(|k| rank(k));
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{}: {}", Value::from(k.as_str()), inline(&o[k.as_str()])))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// A cell's text: strings as they are, nothing for `null`, a list one item per line,
/// anything else as JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => inline(other),
                })
                .collect();
            items.join("\n")
        }
        other => inline(other),
    }
}

/// A boxed table with `header` and `rows` of cells (a cell may span several lines).
pub fn boxed(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            let longest = c.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            *w = (*w).max(longest);
        }
    }
    let rule: String = widths.iter().fold("+".to_owned(), |mut s, w| {
        s.push_str(&"-".repeat(w + 2));
        s.push('+');
        s
    });
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        out.push('|');
        for (w, c) in widths.iter().zip(cells) {
            let _ = write!(out, " {c:<w$} |");
        }
        out.push('\n');
    };
    let _ = writeln!(out, "{rule}");
    line(&mut out, header);
    let _ = writeln!(out, "{rule}");
    for row in rows {
        let split: Vec<Vec<&str>> = row.iter().map(|c| c.lines().collect()).collect();
        let height = split.iter().map(Vec::len).max().unwrap_or(0).max(1);
        for i in 0..height {
            let cells: Vec<&str> = split
                .iter()
                .map(|l| l.get(i).copied().unwrap_or(""))
                .collect();
            line(&mut out, &cells);
        }
    }
    let _ = writeln!(out, "{rule}");
    out
}

/// A list of objects as a table of `columns`.
pub fn list(columns: &[&str], items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|it| {
            columns
                .iter()
                .map(|c| cell(it.get(c).unwrap_or(&Value::Null)))
                .collect()
        })
        .collect();
    boxed(columns, &rows)
}

/// One object as a `Field | Value` table: every field, or only `columns` when given.
pub fn show(item: &Map<String, Value>, columns: &[&str]) -> String {
    let rows: Vec<Vec<String>> = item
        .iter()
        .filter(|(k, _)| columns.is_empty() || columns.contains(&k.as_str()))
        .map(|(k, v)| vec![k.clone(), cell(v)])
        .collect();
    boxed(&["Field", "Value"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_look_like_neutrons() {
        let items = [json!({
            "id": "p1",
            "name": null,
            "fixed_ips": [{"ip_address": "10.0.0.9", "subnet_id": "s1"}, {"ip_address": "10.0.0.8", "subnet_id": "s1"}],
        })];
        let text = list(&["id", "name", "fixed_ips"], &items);
        let expected = "\
+----+------+-----------------------------------------------+
| id | name | fixed_ips                                     |
+----+------+-----------------------------------------------+
| p1 |      | {\"subnet_id\": \"s1\", \"ip_address\": \"10.0.0.9\"} |
|    |      | {\"subnet_id\": \"s1\", \"ip_address\": \"10.0.0.8\"} |
+----+------+-----------------------------------------------+
";
        assert_eq!(text, expected);
    }
}
