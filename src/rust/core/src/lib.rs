//! Numerical core of flashierrs: empirical Bayes matrix factorization (EBMF,
//! Wang & Stephens 2021) and the empirical Bayes normal-means (EBNM) solvers
//! it is built on. Nothing in this crate knows about R; the R bindings live in
//! the `flashierrs` glue crate one directory up.

pub mod data;
pub mod ebnm;
pub mod fastmath;
pub mod model;
pub mod sparse;
pub mod simd_state;
pub mod special;
pub mod variance;
