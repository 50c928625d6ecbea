//! Paged endpoints as [`futures::Stream`]s of items.
//!
//! AutoShares pages are zero-based and come in a `{"Result":[…],"NextPageLink":…,
//! "PreviousPageLink":…,"TotalCount":n}` envelope (IPO offerings use their own
//! `{"Items":[…],"TotalPage":n,…}`). A stream asks for the next page only when the items of
//! the previous one have been consumed, and stops at `TotalCount`, at an empty page, or at a
//! short page. A server that ignores `pageNumber` would otherwise be asked forever: a page
//! identical to the one before, or more items than `TotalCount` promised, ends the stream with
//! [`Error::Paging`].

use crate::error::{Error, Result};
use crate::types;
use futures::stream::{self, Stream};
use std::collections::VecDeque;
use std::future::Future;

/// The largest page the server accepts (the GitBook caps some lists at 99; 100 for orders).
pub const MAX_PAGE_SIZE: i32 = 100;
/// The page size streams use unless told otherwise.
pub const DEFAULT_PAGE_SIZE: i32 = 50;

/// One page, whatever the envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items in all pages, when the server says.
    pub total: Option<i64>,
    /// Whether the server says there is a next page (`NextPageLink`, `TotalPage`), if it says.
    pub has_next: Option<bool>,
}

/// A generated paging envelope.
pub trait PagingResult {
    type Item: serde::Serialize;
    fn into_page(self) -> Page<Self::Item>;
}

macro_rules! paging_result {
    ($($envelope:ident => $item:ident),* $(,)?) => {$(
        impl PagingResult for types::$envelope {
            type Item = types::$item;
            fn into_page(self) -> Page<types::$item> {
                let has_next = match (&self.next_page_link, self.total_count) {
                    (Some(link), _) if !link.is_empty() => Some(true),
                    (_, Some(_)) => None,
                    _ => None,
                };
                Page { items: self.result, total: self.total_count.map(i64::from), has_next }
            }
        }
    )*};
}

paging_result!(
    OrderPagingResult => OrderResource,
    PositionPagingResult => PositionResource,
    EquityPagingResult => EquityResource,
    OptionPagingResult => OptionResource,
    PriceAlertPagingResult => PriceAlertInfoModel,
    TransactionPagingResult => TransactionMapModel,
    ActivityPagingResult => ActivityModelV2,
    AchRelationshipPagingResult => AchRelationshipResource,
    TransferPagingResult => TransferResource,
    AccountPagingResult => AccountModel,
);

impl PagingResult for types::AccountOfferingPageResult {
    type Item = types::AccountOffering;
    fn into_page(self) -> Page<types::AccountOffering> {
        let has_next = match (self.page_number, self.total_page) {
            (Some(n), Some(pages)) => Some(n + 1 < pages),
            _ => None,
        };
        Page {
            items: self.items,
            total: self.total_count.map(i64::from),
            has_next,
        }
    }
}

struct Cursor<T, F> {
    fetch: F,
    page_size: i32,
    next_page: i32,
    seen: i64,
    buffer: VecDeque<T>,
    done: bool,
    /// A fingerprint of the previous page's items, to notice a server repeating itself.
    last_page: Option<u64>,
}

fn fingerprint<T: serde::Serialize>(items: &[T]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(items).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// Streams the items of `fetch(page_number, page_size)` for page 0, 1, 2… lazily.
pub fn paginate<T, F, Fut>(page_size: i32, fetch: F) -> impl Stream<Item = Result<T>>
where
    T: serde::Serialize,
    F: FnMut(i32, i32) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
    let cursor = Cursor {
        fetch,
        page_size,
        next_page: 0,
        seen: 0,
        buffer: VecDeque::new(),
        done: false,
        last_page: None,
    };
    stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(item) = c.buffer.pop_front() {
                return Some((Ok(item), c));
            }
            if c.done {
                return None;
            }
            match (c.fetch)(c.next_page, c.page_size).await {
                Err(e) => {
                    c.done = true;
                    return Some((Err(e), c));
                }
                Ok(page) => {
                    let page_number = c.next_page;
                    c.next_page += 1;
                    let n = page.items.len() as i64;
                    c.seen += n;
                    let stuck = if n == 0 {
                        None
                    } else if page.total.is_some_and(|t| c.seen > t) {
                        Some(format!(
                            "{} items so far, more than the {} the server announced",
                            c.seen,
                            page.total.unwrap_or_default()
                        ))
                    } else {
                        let print = fingerprint(&page.items);
                        let repeated = c.last_page == Some(print);
                        c.last_page = Some(print);
                        repeated.then(|| {
                            "the page is the same as the one before: the server ignores pageNumber"
                                .to_string()
                        })
                    };
                    if let Some(reason) = stuck {
                        c.done = true;
                        return Some((
                            Err(Error::Paging {
                                page: page_number,
                                reason,
                            }),
                            c,
                        ));
                    }
                    c.done = n == 0
                        || page.has_next == Some(false)
                        || page.total.is_some_and(|t| c.seen >= t)
                        || (page.total.is_none()
                            && page.has_next.is_none()
                            && n < i64::from(c.page_size));
                    c.buffer.extend(page.items);
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn pages_are_fetched_lazily_and_stop_at_the_total() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let s = paginate(2, move |n, size| {
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                let items: Vec<i32> = (n * size..(n * size + size).min(5)).collect();
                Ok(Page {
                    items,
                    total: Some(5),
                    has_next: None,
                })
            }
        });
        futures::pin_mut!(s);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "nothing fetched before polling"
        );
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let rest: Vec<i32> = s.map(|r| r.unwrap()).collect().await;
        assert_eq!(rest, vec![1, 2, 3, 4]);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "pages 0, 1, 2 and no fourth"
        );
    }

    #[tokio::test]
    async fn a_server_that_ignores_the_page_number_ends_the_stream() {
        // Always page 0, always "there is a next page", no total: asked forever before.
        let s = paginate(2, |_, _| async {
            Ok(Page {
                items: vec![1, 2],
                total: None,
                has_next: Some(true),
            })
        });
        let all: Vec<_> = s.take(10).collect().await;
        assert_eq!(all.len(), 3, "two items, then the error: {all:?}");
        assert!(
            matches!(all[2], Err(Error::Paging { page: 1, .. })),
            "{all:?}"
        );
    }

    #[tokio::test]
    async fn more_items_than_the_total_is_an_error() {
        let s = paginate(2, |n, _| async move {
            Ok(Page {
                items: vec![n * 2, n * 2 + 1],
                total: Some(3),
                has_next: Some(true),
            })
        });
        let all: Vec<_> = s.take(10).collect().await;
        assert!(
            matches!(all.last(), Some(Err(Error::Paging { page: 1, .. }))),
            "{all:?}"
        );
    }
}
