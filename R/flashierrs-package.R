#' flashierrs: empirical Bayes matrix factorization with a Rust core
#'
#' flashierrs fits empirical Bayes matrix factorization (EBMF) models with the
#' interface of the flashier package. The user-facing functions are written
#' in R; the fitting (greedy and backfitting updates, the empirical Bayes
#' normal-means solvers behind each prior family, the residual variance
#' estimates) runs in Rust, called through extendr.
#'
#' @keywords internal
#' @useDynLib flashierrs, .registration = TRUE
"_PACKAGE"
