//! What the examples share: the table a demo prints, money with its currency, plurals.
//! (A directory without `main.rs`, so Cargo does not take it for an example.)
#![allow(dead_code)] // each example uses its own part

use rust_decimal::Decimal;
use std::fmt::Write as _;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a demo did: where it ran, and one row per step.
pub struct Report {
    pub server: String,
    pub rows: Vec<(&'static str, String)>,
}

impl Report {
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, step: &'static str, result: impl Into<String>) {
        self.rows.push((step, result.into()));
    }

    /// The report as one aligned two-column table under `title`.
    pub fn table(&self, title: &str) -> String {
        let width = self
            .rows
            .iter()
            .map(|(s, _)| s.len())
            .chain(["step".len()])
            .max()
            .unwrap_or(4);
        let mut out = format!("{title}  ({})\n", self.server);
        let _ = writeln!(out, "  {:<width$}  result", "step");
        let rule = self
            .rows
            .iter()
            .map(|(_, r)| r.chars().count())
            .max()
            .unwrap_or(0)
            .clamp("result".len(), 72);
        let _ = writeln!(out, "  {:-<width$}  {:-<rule$}", "", "");
        for (step, result) in &self.rows {
            let _ = writeln!(out, "  {step:<width$}  {result}");
        }
        out
    }
}

/// `100000` and `USD` as `100,000.00 USD`: every digit kept, at least two decimals, thousands
/// grouped. Without a currency the amount stands alone.
pub fn money(amount: Decimal, currency: Option<&str>) -> String {
    let mut exact = amount;
    if exact.scale() < 2 {
        exact.rescale(2); // adds zeros only
    }
    let text = exact.abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if amount.is_sign_negative() && !amount.is_zero() {
        "-"
    } else {
        ""
    };
    match currency.filter(|c| !c.is_empty()) {
        Some(c) => format!("{sign}{grouped}.{frac} {c}"),
        None => format!("{sign}{grouped}.{frac}"),
    }
}

/// `1 account`, `2 accounts`, `no accounts`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// Runs a demo and renders its table, with the time it took as the last row; or the error.
pub async fn render(
    title: &str,
    demo: impl std::future::Future<Output = Result<Report, BoxError>>,
) -> Result<String, String> {
    let started = std::time::Instant::now();
    match demo.await {
        Ok(mut report) => {
            report.row("time", format!("{} ms", started.elapsed().as_millis()));
            Ok(report.table(title))
        }
        Err(e) => Err(format!("{title}: {e}")),
    }
}

/// A vendor example on its own: prints its table, or the error with exit code 1.
pub fn exit(table: Result<String, String>) -> std::process::ExitCode {
    match table {
        Ok(table) => {
            print!("{table}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("FAILED {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
