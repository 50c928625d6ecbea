//! Report runs: what to ask for ([`ReportQuery`]) and the result as a table of named columns
//! ([`ReportTable`]). The row encoding is not documented publicly, so both an array of cells
//! (in header order) and an object keyed by column name are accepted.

use crate::types;
use crate::Error;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::time::SystemTime;

/// Which report to run and with which filters. Some reports need a filter (often an account
/// id): without it the server answers 406 with code `1.6.2.2`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportQuery {
    pub report_id: i64,
    /// Milliseconds since the Unix epoch.
    pub start_ms: Option<i64>,
    /// Milliseconds since the Unix epoch.
    pub end_ms: Option<i64>,
    pub limit: Option<u32>,
    pub account_id: Option<i64>,
    pub asset_name: Option<String>,
}

impl ReportQuery {
    pub fn new(report_id: i64) -> Self {
        Self {
            report_id,
            ..Default::default()
        }
    }

    /// The period, from `start` (inclusive) to `end`.
    pub fn period(mut self, start: SystemTime, end: SystemTime) -> Self {
        self.start_ms = Some(epoch_ms(start));
        self.end_ms = Some(epoch_ms(end));
        self
    }

    pub fn account(mut self, account_id: i64) -> Self {
        self.account_id = Some(account_id);
        self
    }

    pub fn asset(mut self, name: impl Into<String>) -> Self {
        self.asset_name = Some(name.into());
        self
    }

    pub fn limit(mut self, rows: u32) -> Self {
        self.limit = Some(rows);
        self
    }
}

fn epoch_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// A report result: column names and rows of raw JSON cells, one cell per column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl From<types::ReportResult> for ReportTable {
    fn from(r: types::ReportResult) -> Self {
        let mut headers = r.headers;
        // Object rows without headers: the first row's keys name the columns.
        if headers.is_empty() {
            if let Some(Value::Object(first)) = r.data.first() {
                headers = first.keys().cloned().collect();
            }
        }
        let rows = r
            .data
            .into_iter()
            .map(|row| match row {
                Value::Array(cells) => cells,
                Value::Object(mut map) => headers
                    .iter()
                    .map(|h| map.remove(h).unwrap_or(Value::Null))
                    .collect(),
                scalar => vec![scalar],
            })
            .collect();
        Self { headers, rows }
    }
}

impl ReportTable {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The index of a column, by exact name or, failing that, ignoring case.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name).or_else(|| {
            self.headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
        })
    }

    /// The cell of `row` in the named column (`None` for an unknown column or a short row).
    pub fn cell(&self, row: usize, column: &str) -> Option<&Value> {
        self.rows.get(row)?.get(self.column(column)?)
    }

    /// A cell as text: strings as they are, numbers and booleans written out, `null` as `None`.
    pub fn text(&self, row: usize, column: &str) -> Option<String> {
        match self.cell(row, column)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// A cell as an exact decimal (a number or a numeric string; `null` or `""` is `None`).
    pub fn decimal(&self, row: usize, column: &str) -> Result<Option<Decimal>, Error> {
        let Some(cell) = self.cell(row, column) else {
            return Ok(None);
        };
        brokerkit_runtime::decimal::from_json(cell).map_err(|e| {
            Error::Failure(brokerkit_runtime::Failure::Decode {
                status: None,
                headers: Box::default(),
                body: brokerkit_runtime::Body::default(),
                message: format!("report column `{column}`, row {row}: {e}"),
            })
        })
    }

    /// Every row as an object keyed by column name.
    pub fn records(&self) -> Vec<Map<String, Value>> {
        self.rows
            .iter()
            .map(|row| {
                self.headers
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn result(v: Value) -> types::ReportResult {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn array_and_object_rows_read_alike() {
        let a = ReportTable::from(result(
            json!({"headers": ["Account", "Amount"], "data": [["acc-1", 10.25], ["acc-2", "0.1"]]}),
        ));
        let o = ReportTable::from(result(
            json!({"headers": ["Account", "Amount"], "data": [{"Amount": 10.25, "Account": "acc-1"}, {"Account": "acc-2", "Amount": "0.1"}]}),
        ));
        assert_eq!(a, o);
        assert_eq!(a.decimal(0, "Amount").unwrap(), Some(dec!(10.25)));
        assert_eq!(a.decimal(1, "amount").unwrap(), Some(dec!(0.1)));
        assert_eq!(a.text(1, "Account").as_deref(), Some("acc-2"));
        assert_eq!(a.cell(0, "Nope"), None);
        assert_eq!(a.records()[1]["Account"], json!("acc-2"));
    }

    #[test]
    fn a_non_numeric_cell_is_an_error_not_a_panic() {
        let t = ReportTable::from(result(json!({"headers": ["Amount"], "data": [["abc"]]})));
        assert!(t
            .decimal(0, "Amount")
            .unwrap_err()
            .to_string()
            .contains("Amount"));
    }
}
