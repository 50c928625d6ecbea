//! Shared pieces of the benchmarks in `benches/`: a neutral fixture server of recorded bodies
//! ([`replay`]), an allocation-counting allocator ([`alloc`]) and interleaved rounds that
//! compare brokerkit with a hand-written baseline in the same run ([`rounds`]).

pub mod alloc;
pub mod replay;
pub mod rounds;
