#' Set convergence criterion and tolerance parameter
#'
#' Used in a flash pipeline to set the criterion for deciding whether a
#' greedy fit or a backfit has "converged", and its tolerance.
#'
#' @details The criterion is a function of three arguments, `curr`, `prev`
#'   and `k` (see [flash_conv_crit_elbo_diff()]), returning a number; the fit
#'   has converged when that number is at most `tol`. flashier provides
#'   [flash_conv_crit_elbo_diff()] (the default), [flash_conv_crit_max_chg()],
#'   [flash_conv_crit_max_chg_L()] and [flash_conv_crit_max_chg_F()]; custom
#'   functions can be written with the accessors documented under
#'   [flash_fit()].
#'
#'   The settings are stored in the `flash_fit` object and persist through
#'   the rest of the pipeline: [flash_greedy()] and [flash_backfit()] use
#'   `tol` whenever their own `tol` argument is `NULL`. As in flashier,
#'   [flash_nullcheck()] ignores them.
#'
#'   **flashierrs difference:** the Rust core measures convergence by the
#'   change in the ELBO only. Any other `fn` is stored (for a future core
#'   that can call it) but greedy fits and backfits then compare `tol`
#'   with the ELBO difference, so a warning is given.
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param fn The convergence criterion function. If `NULL`, only the
#'   tolerance is updated (the criterion already set, by default
#'   [flash_conv_crit_elbo_diff()], is kept).
#' @param tol The tolerance: a single non-negative number. The default set
#'   when the flash object is initialised is \eqn{np\sqrt{\epsilon}}, where
#'   \eqn{n} and \eqn{p} are the dimensions of the data and \eqn{\epsilon}
#'   is `.Machine$double.eps`.
#'
#' @return The `flash` object from argument `flash`, with the new convergence
#'   criterion stored in its `flash_fit` (fields `conv_crit_fn` and `tol`).
#'
#' @examples
#' data(gtex)
#' fl <- flash_init(gtex) |>
#'   flash_set_verbose(0) |>
#'   flash_set_conv_crit(tol = 1e-4) |>
#'   flash_greedy(Kmax = 3) |>
#'   flash_backfit()
#' fl$flash_fit$tol
#' @export
flash_set_conv_crit <- function(flash, fn = NULL, tol) {
  fit <- get_fit(flash)
  if (is.null(fn)) {
    fn <- if (is.null(fit$conv_crit_fn)) {
      flash_conv_crit_elbo_diff
    } else {
      fit$conv_crit_fn
    }
  } else if (!is.function(fn)) {
    abort_arg("fn", "must be NULL or a function of (curr, prev, k), such ",
              "as flash_conv_crit_elbo_diff.")
  } else if (length(formals(fn)) < 3 && !("..." %in% names(formals(fn)))) {
    abort_arg("fn", "must accept three arguments: curr, prev and k.")
  }
  if (missing(tol)) {
    abort_arg("tol", "is missing: give the convergence tolerance.")
  }
  check_number(tol, "tol", lower = 0, allow_null = FALSE,
               allow_infinite = TRUE)
  if (!identical(fn, flash_conv_crit_elbo_diff)) {
    warning("Argument 'fn': the Rust core of flashierrs measures convergence ",
            "by the change in ELBO only; the criterion is stored, but ",
            "greedy fits and backfits will compare 'tol' with the ELBO ",
            "difference.", call. = FALSE)
  }
  fit["conv_crit_fn"] <- list(fn)
  fit["tol"] <- list(as.numeric(tol))
  wrapup_flash(fit)
}
