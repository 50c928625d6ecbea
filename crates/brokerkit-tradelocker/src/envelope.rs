//! TradeLocker's `{s, d, errmsg}` envelope around every `/trade` answer: `s: ok` carries the
//! payload, `s: no_data` an empty result, `s: error` a rejection (often at HTTP 200).

use crate::error::{Error, Result};
use crate::types;
use brokerkit_runtime::Failure;
use progenitor_client::ResponseValue;

/// A generated `*Envelope` type.
pub trait Envelope {
    type Data;
    fn into_parts(self) -> (types::EnvelopeStatus, Option<Self::Data>, Option<String>);
}

macro_rules! envelopes {
    ($($env:ident => $data:ty),* $(,)?) => {$(
        impl Envelope for types::$env {
            type Data = $data;
            fn into_parts(self) -> (types::EnvelopeStatus, Option<$data>, Option<String>) {
                (self.s, self.d, self.errmsg)
            }
        }
    )*};
}

envelopes! {
    ConfigEnvelope => types::ConfigData,
    AccountStateEnvelope => types::AccountStateData,
    InstrumentsEnvelope => types::InstrumentsData,
    InstrumentDetailsEnvelope => types::InstrumentDetails,
    SessionDetailsEnvelope => types::SessionDetails,
    SessionStatusEnvelope => types::SessionStatus,
    QuotesEnvelope => types::Quote,
    DailyBarEnvelope => types::DailyBar,
    DepthEnvelope => types::Depth,
    HistoryEnvelope => types::HistoryData,
    PositionsEnvelope => types::PositionsData,
    OrdersEnvelope => types::OrdersData,
    OrdersHistoryEnvelope => types::OrdersHistoryData,
    ExecutionsEnvelope => types::ExecutionsData,
    PlaceOrderEnvelope => types::PlaceOrderData,
    CloseAllPositionsEnvelope => types::CloseAllPositionsData,
}

impl Envelope for types::AccountsEnvelope {
    type Data = Vec<types::TradeAccount>;
    fn into_parts(self) -> (types::EnvelopeStatus, Option<Self::Data>, Option<String>) {
        (self.s, Some(self.d), self.errmsg)
    }
}

impl Envelope for types::StatusEnvelope {
    type Data = ();
    fn into_parts(self) -> (types::EnvelopeStatus, Option<()>, Option<String>) {
        (self.s, Some(()), self.errmsg)
    }
}

/// Opens an envelope: `Ok(Some(d))` for `ok`, `Ok(None)` for `no_data`, a typed error otherwise.
pub fn open<T: Envelope>(response: ResponseValue<T>) -> Result<Option<T::Data>> {
    use types::{EnvelopeStatus as S, EnvelopeStatusString as K};
    let status = response.status().as_u16();
    let (s, d, errmsg) = response.into_inner().into_parts();
    match s {
        S::String(K::Ok) => Ok(d),
        S::String(K::NoData) => Ok(None),
        S::String(K::Error) => Err(Error::Rejected {
            status,
            message: errmsg.unwrap_or_else(|| "(no errmsg in the answer)".into()),
        }),
        S::Other(other) => Err(Error::UnknownStatus(other)),
    }
}

/// Like [`open`], for answers that must carry a payload when `s` is `ok`.
pub fn require<T: Envelope>(response: ResponseValue<T>, what: &str) -> Result<T::Data> {
    let status = response.status().as_u16();
    // Headers are not kept here: cloning them on every call would cost the hot path, and a
    // missing `d` is about the body.
    open(response)?.ok_or_else(|| {
        Error::Failure(Failure::Decode {
            status: Some(status),
            headers: Default::default(),
            body: Default::default(),
            message: format!("the answer carries no `d` ({what})"),
        })
    })
}
