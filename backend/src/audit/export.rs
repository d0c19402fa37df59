//! The audit trail as files: CSV for spreadsheets, JSON for tools.

use super::Record;
use crate::clock::Timestamp;

const COLUMNS: [&str; 13] = [
    "id",
    "time",
    "actor",
    "source_ip",
    "environment",
    "target",
    "action",
    "before",
    "after",
    "commit",
    "request_id",
    "result",
    "detail",
];

/// RFC 4180 CSV with a header row; times in RFC 3339 UTC. Cells that a spreadsheet would run
/// as a formula (starting with = + - @) get a leading apostrophe.
pub fn csv(records: &[Record]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for r in records {
        let time = Timestamp(r.at).rfc3339();
        let cells: [Option<&str>; 13] = [
            Some(&r.id),
            Some(&time),
            Some(&r.actor),
            r.source_ip.as_deref(),
            r.environment.as_deref(),
            r.target.as_deref(),
            Some(&r.action),
            r.before.as_deref(),
            r.after.as_deref(),
            r.commit.as_deref(),
            r.request_id.as_deref(),
            Some(r.result.as_str()),
            r.detail.as_deref(),
        ];
        let line: Vec<String> = cells.iter().map(|c| cell(c.unwrap_or(""))).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV cell (RFC 4180), defused against spreadsheet formulas.
pub(crate) fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\r', '\n']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

/// A JSON array of records, times as RFC 3339 strings next to the milliseconds.
pub fn json(records: &[Record]) -> String {
    let values: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["time"] = serde_json::Value::String(Timestamp(r.at).rfc3339());
            v
        })
        .collect();
    serde_json::to_string_pretty(&values).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Caller, Outcome};

    #[test]
    fn csv_quotes_and_defuses() {
        let r = Record::new(&Caller::new("dana"), "set-env", Outcome::Succeeded, Timestamp(0))
            .change(Some("GREETING=\"hi\", all".into()), Some("=cmd()".into()));
        let text = csv(&[r]);
        let row = text.lines().nth(1).unwrap();
        assert!(row.contains(",dana,"), "{row}");
        assert!(row.contains("1970-01-01T00:00:00Z"));
        assert!(row.contains(r#","GREETING=""hi"", all","#), "{row}");
        assert!(row.contains(",'=cmd(),"), "{row}");
        assert!(text.starts_with("id,time,actor,"));
    }

    #[test]
    fn json_has_times() {
        let r = Record::new(&Caller::new("dana"), "lock", Outcome::Refused, Timestamp(0));
        let v: serde_json::Value = serde_json::from_str(&json(&[r])).unwrap();
        assert_eq!(v[0]["time"], "1970-01-01T00:00:00Z");
        assert_eq!(v[0]["result"], "refused");
    }
}
