#' Backfit a flash object
#'
#' Updates the existing factor/loadings pairs in turn, each given all the
#' others, until the ELBO stops rising by more than `tol` over a sweep. By
#' default the sweeps are accelerated by extrapolation (as in flashier): a
#' step beyond the current fit in the direction of the last change is tried
#' first and kept when it raises the ELBO.
#'
#' flashierrs adds one step to an extrapolated backfit (not in flashier):
#' after the first sweep it tries a varimax rotation of the factors whose
#' priors on both sides are symmetric about zero (such as point-normal) and
#' keeps it when a sweep from the rotated factors ends higher. A rotation
#' applied to the loadings and the factor values alike leaves the fitted
#' values unchanged; it unmixes factors that the greedy fit found as
#' mixtures of sparse ones, which a backfit otherwise does in many slow
#' sweeps. `options(flashierrs.rotate = FALSE)` turns it off.
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param kset The factors to backfit (default: all).
#' @param extrapolate Whether to accelerate the backfit by extrapolation.
#' @param warmstart Whether each EBNM problem starts from the factor's current
#'   prior (for mixture families this also keeps the prior's grid).
#' @param maxiter The maximum number of sweeps.
#' @param tol The convergence tolerance; `NULL` means \eqn{np\sqrt{\epsilon}}.
#' @param verbose The verbosity; `NULL` keeps the flash object's setting.
#'
#' @return The backfitted `flash` object.
#' @examples
#' data(gtex)
#' fl <- flash_greedy(flash_init(gtex), Kmax = 3)
#' fl <- flash_backfit(fl)
#' @export
flash_backfit <- function(flash, kset = NULL, extrapolate = TRUE,
                          warmstart = TRUE, maxiter = 500, tol = NULL,
                          verbose = NULL) {
  wrapup_flash(backfit_fit(flash, kset, extrapolate, warmstart, maxiter, tol,
                           verbose))
}

# flash_backfit() without the final summaries (see greedy_fit(), also for
# then_nullcheck).
backfit_fit <- function(flash, kset, extrapolate, warmstart, maxiter, tol,
                        verbose, then_nullcheck = FALSE) {
  fit <- get_fit(flash)
  k <- n_factors_fit(fit)
  if (is.null(kset)) {
    kset <- seq_len(k)
  } else if (!is.numeric(kset) || anyNA(kset) || any(kset != round(kset)) ||
             any(kset < 1) || any(kset > k) || anyDuplicated(kset)) {
    abort_arg("kset", "must hold distinct factor indices between 1 and ",
              k, ".")
  }
  check_flag(extrapolate, "extrapolate")
  check_flag(warmstart, "warmstart")
  check_whole_number(maxiter, "maxiter", lower = 1)
  check_number(tol, "tol", lower = 0)
  verbose <- fit_verbose(fit, verbose)
  if (is.null(tol)) {
    tol <- default_tol(fit)
  }
  fit <- presweep_unfitted(fit, kset, warmstart)
  args <- list(
    kset = as.numeric(kset), maxiter = maxiter, tol = tol, verbose = verbose,
    extrapolate = extrapolate, warmstart = warmstart,
    rotate = rotate_option(),
    solvers = lapply(fit$ebnm, unname), conv_crit = fit_conv_crit(fit)
  )
  if (then_nullcheck) {
    args$then_nullcheck <- nullcheck_args(fit, kset = NULL, remove = TRUE,
                                          tol = NULL, verbose = verbose,
                                          solvers = fit$ebnm)
  }
  fit <- run_rust(fit, "backfit", args)
  if (isTRUE(attr(fit, "rust_extra")$chained_nullcheck)) {
    return(nullcheck_result(fit, remove = TRUE, summaries = TRUE))
  }
  interrupted <- isTRUE(attr(fit, "rust_extra")$interrupted)
  if (verbose > 0 && k > 0) cat("Wrapping up...\nDone.\n")
  if (interrupted) {
    report_early_stop(fit, "backfitting sweeps")
  }
  bare_fit(fit)
}

# options(flashierrs.rotate): whether an extrapolated backfit tries the
# varimax rotation after its first sweep (default TRUE).
rotate_option <- function() {
  rotate <- getOption("flashierrs.rotate", TRUE)
  if (!is.logical(rotate) || length(rotate) != 1 || is.na(rotate)) {
    stop("Option 'flashierrs.rotate' must be TRUE or FALSE.", call. = FALSE)
  }
  rotate
}
