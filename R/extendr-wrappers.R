# .Call bindings of the Rust functions registered in src/rust/src/lib.rs
# (extendr_module! { mod flashierrs; ... }). Kept by hand in the form that
# rextendr generates: one wrapper per exported Rust function, calling the
# native symbol `wrap__<name>`. Add a line here for every new #[extendr] fn.

rust_ping <- function() .Call(wrap__rust_ping)

rust_core_version <- function() .Call(wrap__rust_core_version)

rust_panic_test <- function() .Call(wrap__rust_panic_test)

# The Rust side reports failures as a value of class "flashierrs_error" (so
# no R error unwinds through Rust frames); turn it into an R error here.
rust_result <- function(res) {
  if (inherits(res, "flashierrs_error")) {
    stop(res$message, call. = FALSE)
  }
  res
}

ebnm_rs <- function(family, x, s, mode, scale, g_init, fix_g) {
  rust_result(.Call(wrap__ebnm_rs, family, x, s, mode, scale, g_init, fix_g))
}

flash_rs <- function(y, state, op, args) {
  rust_result(.Call(wrap__flash_rs, y, state, op, args))
}

set_threads_rs <- function(n) invisible(.Call(wrap__set_threads_rs, n))

ebnm_sample_rs <- function(g, x, s, nsamp) {
  rust_result(.Call(wrap__ebnm_sample_rs, g, x, s, nsamp))
}

stream_rs <- function(y, passes) {
  rust_result(.Call(wrap__stream_rs, y, as.integer(passes)))
}

scan_data_rs <- function(x, nrow) {
  rust_result(.Call(wrap__scan_data_rs, x, as.integer(nrow)))
}
