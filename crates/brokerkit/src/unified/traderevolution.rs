//! TraderEvolution BackOffice through the unified traits: maps types, adds no behaviour.
//!
//! A back-office API: it lists accounts, reads balances and books deposits and withdrawals
//! (account operations), but does not trade. Account ids are the BackOffice's numeric ids as
//! strings; a currency is the name of the account's asset (`/assets`, read once).

use super::{
    Account, Accounts, Balance, Capabilities, Capability, Direction, Error, Funding, MarketData,
    Money, Result, Streaming, Trading, Transfer, TransferRequest, Vendor, VendorError,
};
use crate::traderevolution::{self as vendor, money::OperationType, types, Session};
use chrono::DateTime;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;

impl VendorError for vendor::Error {
    const VENDOR: Vendor = Vendor::TraderEvolution;

    fn rejection(&self) -> Option<(Option<String>, String)> {
        match self {
            vendor::Error::Api(e) => Some((
                e.code.as_ref().map(ToString::to_string),
                e.message.clone().unwrap_or_else(|| self.to_string()),
            )),
            _ => None,
        }
    }
}

const VENDOR: Vendor = Vendor::TraderEvolution;

/// What TraderEvolution does through the unified layer.
pub const CAPABILITIES: &[Capability] = &[
    Capability::Accounts,
    Capability::Balances,
    Capability::Deposit,
    Capability::Withdraw,
    Capability::TransferHistory,
];

/// A logged-in TraderEvolution BackOffice [`Session`] seen through the unified traits.
pub struct TraderEvolution {
    session: Session,
    /// Asset id → name, read once (`/assets`).
    assets: Mutex<Option<HashMap<i64, String>>>,
}

impl TraderEvolution {
    pub fn new(session: Session) -> Self {
        Self {
            session,
            assets: Mutex::new(None),
        }
    }

    /// The vendor session, for what only the BackOffice does.
    pub fn session(&self) -> &Session {
        &self.session
    }

    async fn currency(&self, currency_id: Option<i64>) -> Result<String> {
        let known = self
            .assets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let assets = match known {
            Some(a) => a,
            None => {
                let list = self
                    .session
                    .call(|c| c.list_assets().send())
                    .await?
                    .into_inner();
                let map: HashMap<i64, String> = list
                    .into_iter()
                    .filter_map(|a: types::Asset| Some((a.id?, a.name)))
                    .collect();
                *self.assets.lock().unwrap_or_else(|p| p.into_inner()) = Some(map.clone());
                map
            }
        };
        Ok(currency_id
            .and_then(|id| assets.get(&id).cloned())
            .unwrap_or_default())
    }

    async fn operation(
        &self,
        account_id: &str,
        request: &TransferRequest,
        direction: Direction,
    ) -> Result<Transfer> {
        let id = account(account_id)?;
        // Everything read before sending: once the money moved, nothing may fail the call.
        let account = self
            .session
            .call(|c| c.get_account().account_id(id).send())
            .await?
            .into_inner();
        let currency = self.currency(account.currency_id).await?;
        let comment = request.comment.as_deref();
        let op = match direction {
            Direction::Deposit => self.session.deposit(id, request.amount, comment).await?,
            Direction::Withdrawal => self.session.withdraw(id, request.amount, comment).await?,
        };
        Ok(Transfer {
            id: op.map(|id| id.to_string()),
            account_id: account_id.to_string(),
            direction,
            amount: Money::new(request.amount, currency),
            status: None,
            created_at: None,
        })
    }
}

fn account(id: &str) -> Result<i64> {
    id.parse()
        .map_err(|_| Error::invalid(VENDOR, format!("`{id}` is not a BackOffice account id")))
}

impl Accounts for TraderEvolution {
    fn vendor(&self) -> Vendor {
        VENDOR
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::of(CAPABILITIES)
    }

    fn accounts(&self) -> BoxFuture<'_, Result<Vec<Account>>> {
        Box::pin(async move {
            let list = self
                .session
                .call(|c| c.list_accounts().send())
                .await?
                .into_inner();
            let mut out = Vec::with_capacity(list.len());
            for a in list {
                out.push(Account {
                    id: a.id.to_string(),
                    number: None,
                    name: a.account_name,
                    currency: Some(self.currency(a.currency_id).await?).filter(|c| !c.is_empty()),
                });
            }
            Ok(out)
        })
    }

    fn balance<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Balance>> {
        Box::pin(async move {
            let id = account(account_id)?;
            let a = self
                .session
                .call(|c| c.get_account().account_id(id).send())
                .await?
                .into_inner();
            let balance = a
                .balance
                .ok_or_else(|| Error::unexpected(VENDOR, "the account has no balance"))?;
            Ok(Balance {
                account_id: a.id.to_string(),
                cash: Money::new(balance.into_inner(), self.currency(a.currency_id).await?),
                equity: None,
                available: None,
            })
        })
    }
}

/// The BackOffice serves no market data.
impl MarketData for TraderEvolution {}

/// The BackOffice does not trade.
impl Trading for TraderEvolution {}

impl Funding for TraderEvolution {
    fn deposit<'a>(
        &'a self,
        account_id: &'a str,
        request: &'a TransferRequest,
    ) -> BoxFuture<'a, Result<Transfer>> {
        Box::pin(self.operation(account_id, request, Direction::Deposit))
    }

    fn withdraw<'a>(
        &'a self,
        account_id: &'a str,
        request: &'a TransferRequest,
    ) -> BoxFuture<'a, Result<Transfer>> {
        Box::pin(self.operation(account_id, request, Direction::Withdrawal))
    }

    fn transfers<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Transfer>>> {
        Box::pin(async move {
            let id = account(account_id)?;
            let ops = self.session.settled_operations(id).await?;
            let mut out = Vec::new();
            for op in ops {
                let direction = match op.kind {
                    Some(OperationType::Deposit) => Direction::Deposit,
                    Some(OperationType::Withdrawal) => Direction::Withdrawal,
                    _ => continue,
                };
                out.push(Transfer {
                    id: op.id.map(|id| id.to_string()),
                    account_id: account_id.to_string(),
                    direction,
                    amount: Money::new(
                        op.amount.unwrap_or_default().abs(),
                        self.currency(op.currency_id).await?,
                    ),
                    status: op
                        .settled
                        .map(|s| if s { "settled" } else { "pending" }.to_string()),
                    created_at: op.date_ms.and_then(DateTime::from_timestamp_millis),
                });
            }
            Ok(out)
        })
    }
}

/// The BackOffice publishes no stream.
impl Streaming for TraderEvolution {}

/// Names the adapter only: the session's tokens are never printed.
impl std::fmt::Debug for TraderEvolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraderEvolution").finish_non_exhaustive()
    }
}
