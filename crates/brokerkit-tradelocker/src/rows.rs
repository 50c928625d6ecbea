//! Typed rows. Positions, orders, order history, executions and the account state arrive as
//! arrays of cells whose meaning is given by the column ids in `/trade/config`. Rows are
//! decoded by column *name*, never by index, and cells may be strings, numbers or null.

use crate::types::{self, RowCell};
use rust_decimal::Decimal;
use serde::de::value::MapDeserializer;
use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A row that does not fit its columns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    #[error("{table}: /trade/config has no column list for this table")]
    NoColumns { table: &'static str },
    #[error("{table} row {row}: {got} cells for {expected} columns")]
    Width {
        table: &'static str,
        row: usize,
        expected: usize,
        got: usize,
    },
    #[error("{table} row {row}: {message}")]
    Cell {
        table: &'static str,
        row: usize,
        message: String,
    },
}

/// Column ids of one table, in the order the server sends cells.
pub fn column_ids(
    config: Option<&types::TableConfig>,
    table: &'static str,
) -> Result<Vec<String>, RowError> {
    let config = config.ok_or(RowError::NoColumns { table })?;
    Ok(config.columns.iter().map(|c| c.id.clone()).collect())
}

/// A typed row: the column ids it reads, and where unknown columns go.
pub trait Row: DeserializeOwned {
    /// Column ids the type reads (after serde renames).
    const KNOWN: &'static [&'static str];
    /// Cells of columns this client does not know yet.
    fn other_mut(&mut self) -> &mut BTreeMap<String, Value>;
}

/// Decodes one row into `T` by column name.
pub fn decode_row<T: Row>(
    table: &'static str,
    row: usize,
    columns: &[String],
    cells: &[RowCell],
) -> Result<T, RowError> {
    if cells.len() != columns.len() {
        return Err(RowError::Width {
            table,
            row,
            expected: columns.len(),
            got: cells.len(),
        });
    }
    // Reads the cells in place, as a map keyed by column id: no intermediate JSON object.
    let pairs = columns
        .iter()
        .map(String::as_str)
        .zip(cells.iter().map(|c| &c.0));
    let mut out: T =
        T::deserialize(MapDeserializer::<_, serde_json::Error>::new(pairs)).map_err(|e| {
            RowError::Cell {
                table,
                row,
                message: e.to_string(),
            }
        })?;
    for (column, cell) in columns.iter().zip(cells) {
        if !T::KNOWN.contains(&column.as_str()) {
            out.other_mut().insert(column.clone(), cell.0.clone());
        }
    }
    Ok(out)
}

/// Decodes every row of a table.
pub fn decode_rows<T: Row>(
    table: &'static str,
    columns: &[String],
    rows: &[Vec<RowCell>],
) -> Result<Vec<T>, RowError> {
    rows.iter()
        .enumerate()
        .map(|(i, cells)| decode_row(table, i, columns, cells))
        .collect()
}

/// A table kept as the server's JSON text, one row's text at a time (`[cell, …]`), and decoded
/// straight into typed rows, without a JSON value per cell: 1M positions are about 110 MB of
/// JSON, and a `serde_json::Value` per cell held them in several times that. Decoding consumes
/// the table and frees each row's text once the row is read, so the text and the typed rows
/// are never both held in full.
#[derive(Clone, Default)]
pub struct RawRows(Vec<Box<serde_json::value::RawValue>>);

impl RawRows {
    /// How many rows the table holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The table's JSON text (`[]` when empty), as the server sent each row.
    pub fn json(&self) -> String {
        let mut out =
            String::with_capacity(2 + self.0.iter().map(|r| r.get().len() + 1).sum::<usize>());
        out.push('[');
        for (i, row) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(row.get());
        }
        out.push(']');
        out
    }

    /// Decodes every row into `T` by column name (see [`decode_rows`]).
    pub fn decode<T: Row>(
        self,
        table: &'static str,
        columns: &[String],
    ) -> Result<Vec<T>, RowError> {
        let rows = self.len();
        let mut out = Vec::new();
        self.for_each(table, columns, |row| {
            if out.len() == out.capacity() {
                // A quarter more at a time, never past the table: a typed row is about twice
                // its text, so room for every row at once, beside texts not yet read, would
                // hold three times the answer; doubling would overshoot by up to as much.
                out.reserve_exact((out.len() / 4).max(1024).min(rows - out.len()));
            }
            out.push(row);
            std::ops::ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Decodes the rows one at a time, handing each to `f` as soon as it is read, so that a
    /// caller who folds or filters a huge table never holds more than one typed row of it.
    /// `f` stops the walk by returning `ControlFlow::Break`.
    pub fn for_each<T: Row>(
        self,
        table: &'static str,
        columns: &[String],
        mut f: impl FnMut(T) -> std::ops::ControlFlow<()>,
    ) -> Result<(), RowError> {
        let known: Vec<bool> = columns
            .iter()
            .map(|c| T::KNOWN.contains(&c.as_str()))
            .collect();
        for (row, text) in self.0.into_iter().enumerate() {
            let mut error = None;
            let seed = OneRow::<T> {
                table,
                row,
                columns,
                known: &known,
                error: &mut error,
                _t: std::marker::PhantomData,
            };
            let mut de = serde_json::Deserializer::from_str(text.get());
            let value = de::DeserializeSeed::deserialize(seed, &mut de);
            // The row's text is freed before the next one is read.
            drop(text);
            let value = match (error, value) {
                (Some(e), _) => return Err(e),
                (None, Ok(v)) => v,
                (None, Err(e)) => {
                    return Err(RowError::Cell {
                        table,
                        row,
                        message: e.to_string(),
                    })
                }
            };
            if f(value).is_break() {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RawRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawRows({} rows)", self.len())
    }
}

impl PartialEq for RawRows {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.0.iter().zip(&other.0).all(|(a, b)| a.get() == b.get())
    }
}

impl<'de> Deserialize<'de> for RawRows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rows;
        impl<'de> Visitor<'de> for Rows {
            type Value = RawRows;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of rows")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut rows: A) -> Result<RawRows, A::Error> {
                let mut out = Vec::with_capacity(rows.size_hint().unwrap_or(0));
                while let Some(row) = rows.next_element()? {
                    out.push(row);
                }
                Ok(RawRows(out))
            }
        }
        d.deserialize_seq(Rows)
    }
}

impl serde::Serialize for RawRows {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.0)
    }
}

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for RawRows {
    fn schema_name() -> String {
        "PositionRows".into()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        <Vec<Vec<RowCell>>>::json_schema(gen)
    }
}

/// One row: an array of cells, read as a map keyed by column id.
struct OneRow<'a, T> {
    table: &'static str,
    row: usize,
    columns: &'a [String],
    known: &'a [bool],
    error: &'a mut Option<RowError>,
    _t: std::marker::PhantomData<T>,
}

impl<'de, T: Row> de::DeserializeSeed<'de> for OneRow<'_, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Row> Visitor<'de> for OneRow<'_, T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row (an array of cells)")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut cells: A) -> Result<T, A::Error> {
        let mut map = CellMap {
            cells: &mut cells,
            columns: self.columns,
            known: self.known,
            next: 0,
            read: 0,
            short: false,
            other: Vec::new(),
        };
        let result = T::deserialize(&mut map);
        let (read, short, other) = (map.read, map.short, std::mem::take(&mut map.other));
        let width = |got| RowError::Width {
            table: self.table,
            row: self.row,
            expected: self.columns.len(),
            got,
        };
        if short {
            *self.error = Some(width(read));
            return Err(de::Error::custom("row too short"));
        }
        let mut value = match result {
            Ok(v) => v,
            Err(e) => {
                *self.error = Some(RowError::Cell {
                    table: self.table,
                    row: self.row,
                    message: e.to_string(),
                });
                return Err(e);
            }
        };
        // Columns the type did not ask for after its last field.
        let mut read = read;
        for (i, column) in self.columns.iter().enumerate().skip(map.next) {
            match cells.next_element::<Value>()? {
                Some(cell) if !self.known[i] => {
                    read += 1;
                    value.other_mut().insert(column.clone(), cell);
                }
                Some(_) => read += 1,
                None => {
                    *self.error = Some(width(read));
                    return Err(de::Error::custom("row too short"));
                }
            }
        }
        if cells.next_element::<de::IgnoredAny>()?.is_some() {
            let mut got = read + 1;
            while cells.next_element::<de::IgnoredAny>()?.is_some() {
                got += 1;
            }
            *self.error = Some(width(got));
            return Err(de::Error::custom("row too long"));
        }
        for (column, cell) in other {
            value.other_mut().insert(column, cell);
        }
        Ok(value)
    }
}

/// The cells of one row as a map from column id to cell, read in place. Cells of columns the
/// type does not know are kept aside (they go to its `other` map).
struct CellMap<'a, A> {
    cells: &'a mut A,
    columns: &'a [String],
    known: &'a [bool],
    /// The next column.
    next: usize,
    /// Cells read so far.
    read: usize,
    /// The row ended before its columns did.
    short: bool,
    other: Vec<(String, Value)>,
}

impl<'de, A: de::SeqAccess<'de>> Deserializer<'de> for &mut CellMap<'_, A> {
    type Error = A::Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de, A: de::SeqAccess<'de>> de::MapAccess<'de> for &mut CellMap<'_, A> {
    type Error = A::Error;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(column) = self.columns.get(self.next) {
            if self.known[self.next] {
                let key = de::value::StrDeserializer::<A::Error>::new(column.as_str());
                return seed.deserialize(key).map(Some);
            }
            self.next += 1;
            match self.cells.next_element::<Value>()? {
                Some(cell) => {
                    self.read += 1;
                    self.other.push((column.clone(), cell));
                }
                None => {
                    self.short = true;
                    return Ok(None);
                }
            }
        }
        Ok(None)
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.next += 1;
        match self.cells.next_element_seed(seed)? {
            Some(v) => {
                self.read += 1;
                Ok(v)
            }
            None => {
                self.short = true;
                Err(de::Error::custom("row too short"))
            }
        }
    }
}

macro_rules! row {
    ($t:ty, [$($col:literal),* $(,)?]) => {
        impl Row for $t {
            const KNOWN: &'static [&'static str] = &[$($col),*];
            fn other_mut(&mut self) -> &mut BTreeMap<String, Value> {
                &mut self.other
            }
        }
    };
}

row!(
    Position,
    [
        "id",
        "tradableInstrumentId",
        "routeId",
        "side",
        "qty",
        "avgPrice",
        "stopLossId",
        "takeProfitId",
        "openDate",
        "unrealizedPl",
        "strategyId"
    ]
);
row!(
    Order,
    [
        "id",
        "tradableInstrumentId",
        "routeId",
        "qty",
        "side",
        "type",
        "status",
        "filledQty",
        "avgPrice",
        "price",
        "stopPrice",
        "validity",
        "expireDate",
        "createdDate",
        "lastModified",
        "isOpen",
        "positionId",
        "stopLoss",
        "stopLossType",
        "takeProfit",
        "takeProfitType",
        "strategyId",
    ]
);
row!(
    Execution,
    [
        "id",
        "price",
        "side",
        "createdDate",
        "qty",
        "orderId",
        "positionId",
        "tradableInstrumentId"
    ]
);
row!(
    AccountState,
    [
        "balance",
        "projectedBalance",
        "availableFunds",
        "blockedBalance",
        "cashBalance",
        "unsettledCash",
        "withdrawalAvailable",
        "stocksValue",
        "optionValue",
        "initialMarginReq",
        "maintMarginReq",
        "marginWarningLevel",
        "blockedForStocks",
        "stockOrdersReq",
        "stopOutLevel",
        "warningMarginReq",
        "marginBeforeWarning",
        "todayGross",
        "todayNet",
        "todayFees",
        "todayVolume",
        "todayTradesCount",
        "openGrossPnL",
        "openNetPnL",
        "positionsCount",
        "ordersCount",
    ]
);

/// An open position (`/positions`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Position {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(deserialize_with = "int")]
    pub tradable_instrument_id: i64,
    #[serde(deserialize_with = "int")]
    pub route_id: i64,
    pub side: types::Side,
    #[serde(with = "brokerkit_runtime::decimal::lenient")]
    pub qty: Decimal,
    #[serde(with = "brokerkit_runtime::decimal::lenient")]
    pub avg_price: Decimal,
    #[serde(default, deserialize_with = "opt_id")]
    pub stop_loss_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub take_profit_id: Option<String>,
    /// Unix milliseconds; `None` when the server sends `""`.
    #[serde(default, deserialize_with = "opt_int")]
    pub open_date: Option<i64>,
    #[serde(default, with = "brokerkit_runtime::decimal::lenient::option")]
    pub unrealized_pl: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_id")]
    pub strategy_id: Option<String>,
    /// Columns this client does not know yet, as sent.
    #[serde(skip)]
    pub other: BTreeMap<String, Value>,
}

/// An order (`/orders` for working orders, `/ordersHistory` for final ones).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Order {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(deserialize_with = "int")]
    pub tradable_instrument_id: i64,
    #[serde(deserialize_with = "int")]
    pub route_id: i64,
    #[serde(with = "brokerkit_runtime::decimal::lenient")]
    pub qty: Decimal,
    pub side: types::Side,
    #[serde(rename = "type")]
    pub type_: types::OrderType,
    /// Title-case in REST: `New`, `Filled`, `Cancelled`, `Refused`, `Unplaced`, `Removed`, `Rejected`…
    pub status: String,
    #[serde(default, with = "brokerkit_runtime::decimal::lenient::option")]
    pub filled_qty: Option<Decimal>,
    #[serde(default, with = "brokerkit_runtime::decimal::lenient::option")]
    pub avg_price: Option<Decimal>,
    #[serde(default, with = "brokerkit_runtime::decimal::lenient::option")]
    pub price: Option<Decimal>,
    #[serde(default, with = "brokerkit_runtime::decimal::lenient::option")]
    pub stop_price: Option<Decimal>,
    #[serde(default)]
    pub validity: Option<types::Validity>,
    #[serde(default, deserialize_with = "opt_int")]
    pub expire_date: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    pub created_date: Option<i64>,
    #[serde(default, deserialize_with = "opt_int")]
    pub last_modified: Option<i64>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_open: Option<bool>,
    #[serde(default, deserialize_with = "opt_id")]
    pub position_id: Option<String>,
    #[serde(default, with = "brokerkit_runtime::decimal::lenient::option")]
    pub stop_loss: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_id")]
    pub stop_loss_type: Option<String>,
    #[serde(default, with = "brokerkit_runtime::decimal::lenient::option")]
    pub take_profit: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_id")]
    pub take_profit_type: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub strategy_id: Option<String>,
    /// Columns this client does not know yet, as sent.
    #[serde(skip)]
    pub other: BTreeMap<String, Value>,
}

/// A fill of the current session (`/executions`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Execution {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(with = "brokerkit_runtime::decimal::lenient")]
    pub price: Decimal,
    pub side: types::Side,
    #[serde(default, deserialize_with = "opt_int")]
    pub created_date: Option<i64>,
    #[serde(with = "brokerkit_runtime::decimal::lenient")]
    pub qty: Decimal,
    #[serde(deserialize_with = "id")]
    pub order_id: String,
    #[serde(default, deserialize_with = "opt_id")]
    pub position_id: Option<String>,
    #[serde(deserialize_with = "int")]
    pub tradable_instrument_id: i64,
    /// Columns this client does not know yet, as sent.
    #[serde(skip)]
    pub other: BTreeMap<String, Value>,
}

macro_rules! account_state {
    ($($field:ident),* $(,)?) => {
        /// The selected account's figures (`/state`), by `accountDetailsConfig` column.
        /// A figure the server does not send is `None`.
        #[derive(Debug, Clone, PartialEq, Default, Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct AccountState {
            $(
                #[serde(default, with = "brokerkit_runtime::decimal::lenient::option")]
                pub $field: Option<Decimal>,
            )*
            /// Columns this client does not know yet, as sent.
            #[serde(skip)]
            pub other: BTreeMap<String, Value>,
        }
    };
}

account_state!(
    balance,
    projected_balance,
    available_funds,
    blocked_balance,
    cash_balance,
    unsettled_cash,
    withdrawal_available,
    stocks_value,
    option_value,
    initial_margin_req,
    maint_margin_req,
    margin_warning_level,
    blocked_for_stocks,
    stock_orders_req,
    stop_out_level,
    warning_margin_req,
    margin_before_warning,
    today_gross,
    today_net,
    today_fees,
    today_volume,
    today_trades_count,
    open_gross_pn_l,
    open_net_pn_l,
    positions_count,
    orders_count,
);

// Loose cells: ids and numbers arrive as strings or numbers, booleans as "true"/"false", and
// "no value" as null or "". Visitors read them without building intermediate JSON values.

struct IdCell;

impl Visitor<'_> for IdCell {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id (string or number) or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((!v.is_empty()).then(|| v.to_owned()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
}

struct IntCell;

impl Visitor<'_> for IntCell {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer (string or number) or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse()
            .map(Some)
            .map_err(|_| E::custom(format!("expected an integer, got {v:?}")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("integer {v} is out of range")))
    }
}

struct BoolCell;

impl Visitor<'_> for BoolCell {
    type Value = Option<bool>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean (or \"true\"/\"false\") or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v {
            "" => Ok(None),
            _ if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            _ if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            _ => Err(E::custom(format!("expected a boolean, got {v:?}"))),
        }
    }
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_id(d)?.ok_or_else(|| de::Error::custom("missing id"))
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(IdCell)
}

fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    opt_int(d)?.ok_or_else(|| de::Error::custom("missing integer"))
}

fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(IntCell)
}

fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(BoolCell)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cells(v: Value) -> Vec<RowCell> {
        serde_json::from_value(v).unwrap()
    }

    const POSITION_COLUMNS: [&str; 11] = [
        "id",
        "tradableInstrumentId",
        "routeId",
        "side",
        "qty",
        "avgPrice",
        "stopLossId",
        "takeProfitId",
        "openDate",
        "unrealizedPl",
        "strategyId",
    ];

    fn cols(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_live_position_row_of_strings_decodes() {
        let row = cells(json!([
            "7421932185916132049",
            "6125",
            "948735",
            "buy",
            "0.62",
            "1.37364",
            null,
            null,
            "1774250624000",
            "8.12",
            "key-undefined"
        ]));
        let p: Position = decode_row("positions", 0, &cols(&POSITION_COLUMNS), &row).unwrap();
        assert_eq!(
            p.id, "7421932185916132049",
            "19-digit ids stay exact strings"
        );
        assert_eq!(p.tradable_instrument_id, 6125);
        assert_eq!(p.qty, Decimal::new(62, 2));
        assert_eq!(p.avg_price.to_string(), "1.37364");
        assert_eq!(p.stop_loss_id, None);
        assert_eq!(p.open_date, Some(1774250624000));
        assert_eq!(p.unrealized_pl, Some(Decimal::new(812, 2)));
    }

    #[test]
    fn columns_are_matched_by_name_not_position() {
        let mut reordered = cols(&POSITION_COLUMNS);
        reordered.reverse();
        reordered.push("brandNewColumn".into());
        let row = cells(json!([
            "s1", 3.5, "", null, null, 1.1, 0.5, "sell", 7, 9, 42, "x"
        ]));
        let p: Position = decode_row("positions", 0, &reordered, &row).unwrap();
        assert_eq!(
            (p.id.as_str(), p.tradable_instrument_id, p.route_id),
            ("42", 9, 7)
        );
        assert_eq!(p.open_date, None, "an empty openDate is no date");
        assert_eq!(
            p.other.get("brandNewColumn"),
            Some(&json!("x")),
            "unknown columns are kept"
        );
        assert!(matches!(
            p.side,
            types::Side::String(types::SideString::Sell)
        ));
    }

    #[test]
    fn bad_rows_are_typed_errors() {
        let short = cells(json!(["1", "2"]));
        let e =
            decode_row::<Position>("positions", 3, &cols(&POSITION_COLUMNS), &short).unwrap_err();
        assert_eq!(
            e,
            RowError::Width {
                table: "positions",
                row: 3,
                expected: 11,
                got: 2
            }
        );
        let mut row = cells(json!([
            "1", "2", "3", "buy", "lots", "1", null, null, "", "0", ""
        ]));
        let e = decode_row::<Position>("positions", 0, &cols(&POSITION_COLUMNS), &row).unwrap_err();
        assert!(e.to_string().contains("not a decimal"), "{e}");
        row[4] = RowCell(json!("1"));
        row[5] = RowCell(Value::Null);
        assert!(
            decode_row::<Position>("positions", 0, &cols(&POSITION_COLUMNS), &row).is_err(),
            "avgPrice is required"
        );
    }

    fn raw(v: Value) -> RawRows {
        serde_json::from_str(&v.to_string()).unwrap()
    }

    /// The raw table decodes every row as the cell-by-cell decoder does, in the same order.
    #[test]
    fn raw_rows_decode_like_cells() {
        let mut reordered = cols(&POSITION_COLUMNS);
        reordered.reverse();
        reordered.insert(3, "brandNewColumn".into());
        reordered.push("another".into());
        let table = json!([
            ["s1", 3.5, "", "x", null, null, 1.1, 0.5, "sell", 7, 9, 42, {"a": [1]}],
            ["", "-2.25", "1774250624000", null, "7", "8", "1.00000000000000000001", "3", "buy", "948735", "6125", "7421932185916132049", 0]
        ]);
        let by_cells: Vec<Position> = table
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, r)| decode_row("positions", i, &reordered, &cells(r.clone())).unwrap())
            .collect();
        let by_raw: Vec<Position> = raw(table).decode("positions", &reordered).unwrap();
        assert_eq!(by_raw, by_cells);
        assert_eq!(by_raw[1].id, "7421932185916132049");
        assert_eq!(
            by_raw[1].avg_price.to_string(),
            "1.00000000000000000001",
            "exact, more digits than f64"
        );
        assert_eq!(by_raw[0].other.get("another"), Some(&json!({"a": [1]})));
        assert_eq!(by_raw[1].other.get("brandNewColumn"), Some(&json!(null)));
        assert!(raw(json!([]))
            .decode::<Position>("positions", &reordered)
            .unwrap()
            .is_empty());
        assert!(RawRows::default()
            .decode::<Position>("positions", &reordered)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn raw_rows_report_the_row_that_does_not_fit() {
        let columns = cols(&POSITION_COLUMNS);
        let good = json!(["1", "2", "3", "buy", "1", "1", null, null, "", null, null]);
        let short = raw(json!([good.clone(), ["1", "2"]]));
        assert_eq!(
            short.decode::<Position>("positions", &columns).unwrap_err(),
            RowError::Width {
                table: "positions",
                row: 1,
                expected: 11,
                got: 2
            }
        );
        let mut long = good.clone();
        long.as_array_mut().unwrap().extend([json!(1), json!(2)]);
        assert_eq!(
            raw(json!([good.clone(), good.clone(), long]))
                .decode::<Position>("positions", &columns)
                .unwrap_err(),
            RowError::Width {
                table: "positions",
                row: 2,
                expected: 11,
                got: 13
            }
        );
        let mut lots = good.clone();
        lots[4] = json!("lots");
        match raw(json!([lots]))
            .decode::<Position>("positions", &columns)
            .unwrap_err()
        {
            RowError::Cell {
                row: 0, message, ..
            } => assert!(message.contains("not a decimal"), "{message}"),
            e => panic!("{e:?}"),
        }
        assert!(
            serde_json::from_str::<RawRows>("{\"a\": 1}").is_err(),
            "a table is an array"
        );
    }

    /// Each row keeps the server's text exactly (digits beyond f64, the order of cells), and
    /// the table is written back as it came.
    #[test]
    fn raw_rows_keep_the_text_of_each_row() {
        let text = r#"[["7421932185916132049", "1.00000000000000000001",null],[],[{"b":1,"a":2}]]"#;
        let table: RawRows = serde_json::from_str(text).unwrap();
        assert_eq!(table.len(), 3);
        let expected =
            r#"[["7421932185916132049", "1.00000000000000000001",null],[],[{"b":1,"a":2}]]"#;
        assert_eq!(table.json(), expected);
        assert_eq!(serde_json::to_string(&table).unwrap(), expected);
        assert_eq!(RawRows::default().json(), "[]");
        assert!(RawRows::default().is_empty());
        assert!(
            serde_json::from_str::<RawRows>("[[1], [2").is_err(),
            "cut short"
        );
    }

    #[test]
    fn raw_rows_can_be_walked_without_keeping_them() {
        let columns = cols(&POSITION_COLUMNS);
        let rows: Vec<Value> = (0..5)
            .map(|i| {
                json!([
                    i.to_string(),
                    "2",
                    "3",
                    "buy",
                    "1",
                    "1",
                    null,
                    null,
                    "",
                    null,
                    null
                ])
            })
            .collect();
        let table = raw(Value::Array(rows));
        assert_eq!(format!("{table:?}"), "RawRows(5 rows)");
        assert_eq!(table.len(), 5);
        let mut seen = Vec::new();
        table
            .for_each("positions", &columns, |p: Position| {
                seen.push(p.id);
                if seen.len() == 3 {
                    std::ops::ControlFlow::Break(())
                } else {
                    std::ops::ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!(seen, ["0", "1", "2"], "stops when asked");
    }

    #[test]
    fn an_unknown_side_does_not_fail_the_row() {
        let row = cells(json!([
            "1", "2", "3", "short", "1", "1", null, null, "", null, null
        ]));
        let p: Position = decode_row("positions", 0, &cols(&POSITION_COLUMNS), &row).unwrap();
        assert!(matches!(p.side, types::Side::Other(ref s) if s == "short"));
    }

    #[test]
    fn known_columns_match_the_serde_names() {
        // Every KNOWN column must land in a field, not in `other`.
        fn check<T: Row + std::fmt::Debug>(table: &'static str) {
            let columns = cols(T::KNOWN);
            let cells: Vec<RowCell> = T::KNOWN.iter().map(|c| RowCell(sample(c))).collect();
            let row: T = decode_row(table, 0, &columns, &cells).unwrap_or_else(|e| panic!("{e}"));
            let mut row = row;
            assert!(row.other_mut().is_empty(), "{table}: {:?}", row.other_mut());
        }
        fn sample(column: &str) -> Value {
            match column {
                "side" => json!("buy"),
                "type" => json!("market"),
                "status" => json!("Filled"),
                "validity" => json!("IOC"),
                "isOpen" => json!("false"),
                "stopLossType" | "takeProfitType" | "strategyId" => json!("x"),
                _ => json!("1"),
            }
        }
        check::<Position>("positions");
        check::<Order>("orders");
        check::<Execution>("executions");
        check::<AccountState>("accountDetails");
    }

    #[test]
    fn account_state_by_name_with_strings_and_numbers() {
        let columns = cols(&[
            "balance",
            "projectedBalance",
            "openNetPnL",
            "positionsCount",
        ]);
        let s: AccountState = decode_row(
            "accountDetails",
            0,
            &columns,
            &cells(json!(["100000.00", 100008.12, "8.12", 1])),
        )
        .unwrap();
        assert_eq!(s.balance, Some(Decimal::new(10000000, 2)));
        assert_eq!(s.projected_balance.unwrap().to_string(), "100008.12");
        assert_eq!(s.open_net_pn_l, Some(Decimal::new(812, 2)));
        assert_eq!(s.positions_count, Some(Decimal::ONE));
        assert_eq!(s.cash_balance, None);
    }
}
