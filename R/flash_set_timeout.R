#' Set timeout
#'
#' Used in a flash pipeline to set a maximum amount of fitting time,
#' counted from this call. Greedy fits and backfits check the limit between
#' updates: when it has passed they stop, keep the work completed so far
#' (the factors already added, the last complete backfitting sweep) and warn.
#' The limit stays in force until [flash_clear_timeout()]. Interrupting R
#' (Ctrl-C) stops a fit in the same way.
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param tim A positive number giving the maximum amount of fitting time,
#'   in the units given by `units`.
#' @param units The units of time in which `tim` is given.
#'
#' @return The `flash` object from argument `flash`, with the timeout
#'   settings stored in its `flash_fit`. They persist through the rest of
#'   the pipeline until changed by [flash_clear_timeout()] or by another
#'   call to `flash_set_timeout`.
#'
#' @examples
#' data(gtex)
#' fl <- flash_init(gtex) |>
#'   flash_set_verbose(0) |>
#'   flash_set_timeout(1, "secs") |>
#'   flash_greedy(Kmax = 3) |>
#'   flash_backfit() |>
#'   flash_nullcheck() |>
#'   flash_clear_timeout() # Always clear the timeout at the end of a pipeline.
#' @export
flash_set_timeout <- function(flash, tim,
                              units = c("hours", "secs", "mins", "days",
                                        "weeks")) {
  fit <- get_fit(flash)
  if (missing(tim)) {
    abort_arg("tim", "is missing: give the maximum fitting time.")
  }
  if (!is.numeric(tim) || length(tim) != 1 || is.na(tim) || tim <= 0) {
    abort_arg("tim", "must be a single positive number.")
  }
  if (!is.character(units) || length(units) < 1 || anyNA(units)) {
    abort_arg("units", "must be one of \"hours\", \"secs\", \"mins\", ",
              "\"days\" or \"weeks\".")
  }
  units <- tryCatch(match.arg(units),
                    error = function(e) {
                      abort_arg("units", "must be one of \"hours\", ",
                                "\"secs\", \"mins\", \"days\" or \"weeks\".")
                    })
  fit["timeout"] <- list(list(limit = as.difftime(tim, units = units),
                              set_time = Sys.time()))
  wrapup_flash(fit)
}

#' Clear timeout
#'
#' Used in a flash pipeline to clear timeout conditions set using
#' [flash_set_timeout()].
#'
#' @param flash A `flash` or `flash_fit` object.
#'
#' @return The `flash` object from argument `flash`, with the timeout
#'   settings cleared.
#'
#' @examples
#' data(gtex)
#' fl <- flash_set_timeout(flash_init(gtex), 10, "mins")
#' fl <- flash_clear_timeout(fl)
#' is.null(fl$flash_fit$timeout)
#' @export
flash_clear_timeout <- function(flash) {
  fit <- get_fit(flash)
  fit$timeout <- NULL
  wrapup_flash(fit)
}
