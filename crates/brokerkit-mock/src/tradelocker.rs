//! TradeLocker sandbox (in progress).
