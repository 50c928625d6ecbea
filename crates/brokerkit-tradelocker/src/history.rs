//! Ranges longer than one answer holds, asked for in pieces the server accepts.
//!
//! `/trade/history` refuses a range of more bars than `QUOTES_HISTORY_BARS` (reference §3.15),
//! so a long range is split into windows of at most that many bars and the answers joined.
//! `ordersHistory` answers a page at a time with `hasMore` and no cursor (reference §5): the
//! next page starts at the last `createdDate` received, that millisecond is read again, and the
//! ids already handed out are dropped.

use crate::rows::Order;
use crate::types;
use std::collections::HashSet;

/// The bar cap the docs give (reference §3.15), for a server whose `/trade/config` publishes
/// none.
pub(crate) const DOCUMENTED_BARS_CAP: i64 = 20_000;

/// The shortest a month bar can be: month windows sized by it never hold more bars than the cap.
const SHORTEST_MONTH_MILLIS: i64 = 28 * 86_400_000;

/// The length to size windows by for a resolution, `None` for one the client does not know
/// (an open enum's unknown value): such a range is sent as one request.
pub(crate) fn bar_millis(resolution: &types::Resolution) -> Option<i64> {
    let wire = serde_json::to_value(resolution).ok()?;
    let known: crate::Resolution = wire.as_str()?.parse().ok()?;
    Some(known.bar_millis().unwrap_or(SHORTEST_MONTH_MILLIS))
}

/// `[from, to)` cut into consecutive windows of at most `cap` bars of `bar_ms` each. A range
/// that fits (or is empty) stays one window, so an empty range still gets the server's
/// `no_data`.
pub(crate) fn windows(from: i64, to: i64, bar_ms: i64, cap: i64) -> Vec<(i64, i64)> {
    let width = bar_ms.max(1).saturating_mul(cap.max(1));
    if to.saturating_sub(from) <= width {
        return vec![(from, to)];
    }
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = start.saturating_add(width).min(to);
        out.push((start, end));
        start = end;
    }
    out
}

/// Appends the bars of the next window, dropping any at or before the last bar held: a server
/// that counts `to` as inclusive sends the boundary bar twice.
pub(crate) fn join(bars: &mut Vec<types::Bar>, next: Vec<types::Bar>) {
    // The first window (usually the only one) is taken as it is, not copied bar by bar.
    let Some(last) = bars.last().map(|b| b.t) else {
        *bars = next;
        return;
    };
    bars.extend(next.into_iter().filter(|b| b.t > last));
}

/// Where the next `ordersHistory` page starts, and which ids at that millisecond were already
/// handed out.
#[derive(Debug)]
pub(crate) struct OrdersPager {
    from: Option<i64>,
    boundary_ids: HashSet<String>,
}

/// What one page gave: the orders not seen before, and whether to ask again.
pub(crate) struct Turn {
    pub(crate) fresh: Vec<Order>,
    pub(crate) more: bool,
}

/// `hasMore` with no row newer than the boundary: more orders share one millisecond than a
/// page holds, and moving `from` cannot get past them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stalled {
    pub(crate) from: Option<i64>,
}

impl OrdersPager {
    pub(crate) fn new(from: Option<i64>) -> Self {
        Self {
            from,
            boundary_ids: HashSet::new(),
        }
    }

    pub(crate) fn from(&self) -> Option<i64> {
        self.from
    }

    pub(crate) fn take(&mut self, orders: Vec<Order>, has_more: bool) -> Result<Turn, Stalled> {
        let before = self.from;
        let newest = orders.iter().filter_map(|o| o.created_date).max();
        let fresh: Vec<Order> = orders
            .into_iter()
            .filter(|o| !self.boundary_ids.contains(&o.id))
            .collect();
        if !has_more {
            return Ok(Turn { fresh, more: false });
        }
        let Some(newest) = newest else {
            return Err(Stalled { from: before });
        };
        if Some(newest) != self.from {
            self.boundary_ids.clear();
        }
        self.boundary_ids.extend(
            fresh
                .iter()
                .filter(|o| o.created_date == Some(newest))
                .map(|o| o.id.clone()),
        );
        self.from = Some(newest);
        if fresh.is_empty() {
            return Err(Stalled { from: before });
        }
        Ok(Turn { fresh, more: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_hold_at_most_the_cap_and_cover_the_range_once() {
        let minute = 60_000;
        assert_eq!(windows(0, 10 * minute, minute, 10), vec![(0, 10 * minute)]);
        assert_eq!(
            windows(5, 5, minute, 10),
            vec![(5, 5)],
            "empty stays one request"
        );
        let w = windows(7, 25 * minute + 3, minute, 10);
        assert_eq!(w.first().unwrap().0, 7);
        assert_eq!(w.last().unwrap().1, 25 * minute + 3);
        for pair in w.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "no gap, no overlap");
        }
        for (f, t) in &w {
            // Bar opens (multiples of a minute) in [f, t).
            let opens = (f.div_euclid(minute)..=(t - 1).div_euclid(minute))
                .filter(|k| k * minute >= *f)
                .count();
            assert!(opens <= 10, "{f}..{t} holds {opens} bars");
        }
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn resolutions_size_windows_by_their_shortest_bar() {
        let month: types::Resolution = crate::Resolution::Month.into();
        assert_eq!(bar_millis(&month), Some(SHORTEST_MONTH_MILLIS));
        let hour: types::Resolution = crate::Resolution::Hour.into();
        assert_eq!(bar_millis(&hour), Some(3_600_000));
    }

    fn order(id: &str, created: i64) -> Order {
        serde_json::from_value(serde_json::json!({
            "id": id, "tradableInstrumentId": "278", "routeId": "948735", "qty": "1",
            "side": "buy", "type": "market", "status": "Filled", "createdDate": created.to_string(),
        }))
        .unwrap()
    }

    #[test]
    fn the_boundary_millisecond_is_read_again_without_doubling() {
        let mut pager = OrdersPager::new(None);
        let turn = pager
            .take(vec![order("1", 10), order("2", 20), order("3", 20)], true)
            .unwrap();
        assert_eq!(turn.fresh.len(), 3);
        assert_eq!(pager.from(), Some(20));
        // The next page starts at 20 again: 2 and 3 come back and are dropped.
        let turn = pager
            .take(vec![order("2", 20), order("3", 20), order("4", 20)], true)
            .unwrap();
        let ids: Vec<_> = turn.fresh.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["4"]);
        let turn = pager
            .take(vec![order("4", 20), order("5", 30)], false)
            .unwrap();
        let ids: Vec<_> = turn.fresh.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["5"]);
        assert!(!turn.more);
    }

    #[test]
    fn a_page_with_nothing_new_and_more_to_come_is_a_stall_not_a_loop() {
        let mut pager = OrdersPager::new(Some(20));
        pager
            .take(vec![order("1", 20), order("2", 20)], true)
            .unwrap();
        assert_eq!(
            pager.take(vec![order("1", 20), order("2", 20)], true).err(),
            Some(Stalled { from: Some(20) })
        );
    }
}
