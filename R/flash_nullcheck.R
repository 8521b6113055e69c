#' Nullcheck flash factors
#'
#' Removes every factor/loadings pair whose removal does not lower the ELBO
#' (by more than `tol`).
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param kset Must be `NULL` (all factors) at present.
#' @param remove Must be `TRUE` at present.
#' @param tol The tolerance; `NULL` means \eqn{np\sqrt{\epsilon}}.
#' @param verbose The verbosity; `NULL` keeps the flash object's setting.
#'
#' @return The `flash` object without the factors that failed the check.
#' @examples
#' data(gtex)
#' fl <- flash_nullcheck(flash_greedy(flash_init(gtex), Kmax = 2))
#' @export
flash_nullcheck <- function(flash, kset = NULL, remove = TRUE, tol = NULL,
                            verbose = NULL) {
  fit <- get_fit(flash)
  if (!is.null(kset)) {
    stop("Argument 'kset': nullchecking a subset of factors is not yet ",
         "supported by flashierrs; use kset = NULL.", call. = FALSE)
  }
  check_flag(remove, "remove")
  check_number(tol, "tol", lower = 0)
  verbose <- fit_verbose(fit, verbose)
  if (is.null(tol)) {
    tol <- default_tol(fit, conv = FALSE)
  }
  fit <- run_rust(fit, "nullcheck", list(tol = tol, verbose = verbose))
  removed <- attr(fit, "rust_extra")$removed
  if (length(removed) > 0) {
    fit$ebnm <- fit$ebnm[-removed]
    fit <- drop_fixed(fit, removed)
  }
  wrapup_flash(fit)
}
