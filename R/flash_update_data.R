#' Update data in a flash object
#'
#' Replaces the data in a flash object with a new set of observations of the
#' same dimensions, keeping the factors as they are. The residual variance
#' estimates and the ELBO are recomputed for the new data. (flashier added
#' this function after version 1.0.7.)
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param newdata The new observations: a numeric matrix (or data frame of
#'   numeric columns) with the dimensions of the current data; `NA` marks
#'   missing entries.
#' @param Y2_diff Accepted for compatibility with flashier, where it can
#'   supply the summed changes in the squared data to save time. flashierrs
#'   recomputes them from `newdata`; if given, it must be a number (or a
#'   vector of length \eqn{n} or \eqn{p}), and it is otherwise ignored.
#'
#' @return The `flash` object from argument `flash`, with the data replaced
#'   by `newdata` and the residual variances and ELBO updated.
#'
#' @examples
#' data(gtex)
#' fl <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#' set.seed(1)
#' noisy <- gtex + matrix(rnorm(length(gtex), sd = 0.5), nrow(gtex))
#' fl2 <- flash_update_data(fl, noisy)
#' c(fl$elbo, fl2$elbo)
#' @export
flash_update_data <- function(flash, newdata, Y2_diff = NULL) {
  fit <- get_fit(flash)
  if (missing(newdata)) {
    abort_arg("newdata", "is missing: give the new observations.")
  }
  newdata <- tryCatch(prepare_data(newdata), error = function(e) {
    stop(sub("Argument 'data'", "Argument 'newdata'", conditionMessage(e),
             fixed = TRUE), call. = FALSE)
  })
  if (!identical(dim(newdata), dim(fit$Y))) {
    abort_arg("newdata", "must have the dimensions of the existing data (",
              nrow(fit$Y), " x ", ncol(fit$Y), "); got ", nrow(newdata),
              " x ", ncol(newdata), ".")
  }
  if (!is.null(Y2_diff) &&
      (!is.numeric(Y2_diff) || anyNA(Y2_diff) ||
       !(length(Y2_diff) %in% c(1, nrow(newdata), ncol(newdata))))) {
    abort_arg("Y2_diff", "must be NULL, a number, or a vector of length n ",
              "or p.")
  }
  fit["Y"] <- list(newdata)
  wrapup_flash(refresh_fit(fit))
}
