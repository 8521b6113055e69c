#' Nullcheck flash factors
#'
#' Removes every factor/loadings pair whose removal does not lower the ELBO
#' (by more than `tol`).
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param kset The factors to check (default: all).
#' @param remove Whether to remove the factors that fail the check (`TRUE`,
#'   the default) or only set them to zero, keeping their places (`FALSE`).
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
  wrapup_flash(nullcheck_fit(flash, kset, remove, tol, verbose,
                             summaries = TRUE))
}

# flash_nullcheck() without the final summaries (see greedy_fit()); with
# summaries = TRUE the same Rust call also computes the summaries of the
# factors that remain (lfsr, pve), kept in the "summaries" attribute for
# wrapup_flash().
nullcheck_fit <- function(flash, kset, remove, tol, verbose,
                          summaries = FALSE) {
  fit <- get_fit(flash)
  k <- n_factors_fit(fit)
  if (!is.null(kset) && (!is.numeric(kset) || anyNA(kset) ||
                         any(kset != round(kset)) || any(kset < 1) ||
                         any(kset > k) || anyDuplicated(kset))) {
    abort_arg("kset", "must hold distinct factor indices between 1 and ",
              k, ".")
  }
  check_flag(remove, "remove")
  check_number(tol, "tol", lower = 0)
  verbose <- fit_verbose(fit, verbose)
  args <- nullcheck_args(fit, kset, remove, tol, verbose,
                         solvers = if (summaries && k > 0) fit$ebnm)
  fit <- run_rust(fit, "nullcheck", args)
  nullcheck_result(fit, remove, summaries = !is.null(args$solvers))
}

# The Rust nullcheck's arguments (solvers: one pair per factor, or more,
# when the summaries are wanted too).
nullcheck_args <- function(fit, kset, remove, tol, verbose, solvers = NULL) {
  if (is.null(tol)) {
    tol <- default_tol(fit, conv = FALSE)
  }
  args <- list(tol = tol, verbose = verbose, remove = remove,
               kset = if (is.null(kset)) NULL else as.numeric(kset))
  if (!is.null(solvers)) {
    args$solvers <- lapply(solvers, unname)
  }
  args
}

# The fit after a Rust call that ran the nullcheck: the removed factors'
# solvers and held entries dropped; the summaries (when computed) kept in
# the "summaries" attribute for wrapup_flash(), and the "nullchecked"
# attribute set for flash().
nullcheck_result <- function(fit, remove, summaries) {
  extra <- attr(fit, "rust_extra")
  removed <- extra$removed
  if (remove && length(removed) > 0) {
    fit$ebnm <- fit$ebnm[-removed]
    fit <- drop_fixed(fit, removed)
  }
  out <- bare_fit(fit)
  if (summaries && n_factors_fit(out) > 0) {
    attr(out, "summaries") <- extra[c("L_lfsr", "F_lfsr", "pve")]
  }
  attr(out, "nullchecked") <- TRUE
  out
}
