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
#'   The four criteria above are computed in the Rust core. **flashierrs
#'   difference:** the core cannot call other R functions between
#'   iterations, so a custom `fn` is stored but greedy fits and backfits
#'   then compare `tol` with the ELBO difference, and a warning says so.
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
  if (is.na(conv_crit_code(fn))) {
    warning("Argument 'fn': flashierrs computes the four flash_conv_crit_* ",
            "criteria only; a custom criterion is stored, but greedy fits ",
            "and backfits will compare 'tol' with the ELBO difference.",
            call. = FALSE)
  }
  fit["conv_crit_fn"] <- list(fn)
  fit["tol"] <- list(as.numeric(tol))
  wrapup_flash(fit)
}

# The Rust core's code for a convergence criterion (NA for a custom one).
conv_crit_code <- function(fn) {
  if (is.null(fn) || identical(fn, flash_conv_crit_elbo_diff)) return(0L)
  if (identical(fn, flash_conv_crit_max_chg)) return(1L)
  if (identical(fn, flash_conv_crit_max_chg_L)) return(2L)
  if (identical(fn, flash_conv_crit_max_chg_F)) return(3L)
  NA_integer_
}

# The code passed with greedy and backfit calls (custom criteria fall back
# to the ELBO difference, with the warning given when they were set).
fit_conv_crit <- function(fit) {
  code <- conv_crit_code(fit$conv_crit_fn)
  if (is.na(code)) 0L else code
}
