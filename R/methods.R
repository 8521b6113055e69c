# S3 methods for flash and flash_fit objects: print, fitted, residuals.
# (ldf() is in ldf.R, the plots in plot*.R.)

#' Print a flash object
#'
#' A short summary: the number of factors, the proportion of variance each
#' explains (factors with a PVE below 0.001 are left out, as in flashier),
#' the ELBO and the residual variance structure.
#'
#' @param x A `flash` or `flash_fit` object.
#' @param ... Ignored.
#' @return `x`, invisibly.
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#' print(fit)
#' print(fit$flash_fit)
#' @export
print.flash <- function(x, ...) {
  k <- x$n_factors
  pve <- x$pve
  if (k == 0) {
    cat("Flash object with zero factors.\n")
  } else if (k == 1) {
    cat("Flash object with one factor.\n")
    cat(sprintf("  Proportion of variance explained: %.3f\n", pve))
  } else {
    cat(sprintf("Flash object with %d factors.\n", k))
    small <- pve < 0.001
    if (all(small)) {
      cat("  All factors have PVE < 0.001.\n")
    } else {
      cat("  Proportion of variance explained", if (any(small)) "*", ":\n",
          sep = "")
      for (i in which(!small)) {
        cat(sprintf("    Factor %d: %.3f\n", i, pve[i]))
      }
      if (any(small)) {
        cat("    *Factors with PVE < 0.001 are omitted from this summary.\n")
      }
    }
  }
  if (!is.null(x$elbo) && !is.na(x$elbo)) {
    cat(sprintf("  Variational lower bound: %.3f\n", x$elbo))
  }
  cat("  Residual variance: ", var_type_label(x$flash_fit$var_type), "\n",
      sep = "")
  invisible(x)
}

#' @rdname print.flash
#' @export
print.flash_fit <- function(x, ...) {
  k <- n_factors_fit(x)
  n_missing <- sum(is.na(x$Y))
  cat(sprintf("Flash fit object for a %d x %d data matrix", nrow(x$Y),
              ncol(x$Y)))
  if (n_missing > 0) {
    cat(sprintf(" (%d missing entries)", n_missing))
  }
  cat(".\n")
  cat(sprintf("  Factors: %d\n", k))
  if (!is.null(x$elbo) && !is.na(x$elbo)) {
    cat(sprintf("  Variational lower bound: %.3f\n", x$elbo))
  }
  cat("  Residual variance: ", var_type_label(x$var_type), "\n", sep = "")
  invisible(x)
}

var_type_label <- function(var_type) {
  if (is.null(var_type)) {
    return("fixed")
  }
  switch(paste(var_type, collapse = ","),
         "0" = "constant", "1" = "by row", "2" = "by column",
         "1,2" = "Kronecker", "other")
}

#' Fitted values of a flash fit
#'
#' The posterior mean of \eqn{L F'}, that is \eqn{E(L) E(F)'}: the product of
#' the posterior means of the loadings and the factors.
#'
#' @param object A `flash` or `flash_fit` object.
#' @param ... Ignored.
#' @return An \eqn{n \times p} matrix with the data's row and column names.
#'   For a fit with no factors, a matrix of zeros (with a warning).
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#' fv <- fitted(fit)
#' dim(fv)
#' all.equal(fv, fit$L_pm %*% t(fit$F_pm), check.attributes = FALSE)
#' @importFrom stats fitted
#' @export
fitted.flash <- function(object, ...) {
  fitted.flash_fit(object$flash_fit)
}

#' @rdname fitted.flash
#' @export
fitted.flash_fit <- function(object, ...) {
  if (n_factors_fit(object) == 0) {
    warning("The flash object has no factors: the fitted values are all ",
            "zero.", call. = FALSE)
    out <- matrix(0, nrow(object$Y), ncol(object$Y))
  } else {
    out <- tcrossprod(as.matrix(object$L), as.matrix(object$F))
  }
  dimnames(out) <- dimnames(object$Y)
  out
}

#' Residuals of a flash fit
#'
#' The expected residuals \eqn{Y - E(L F') = Y - E(L) E(F)'}: the data less
#' the fitted values. Entries that are missing in the data are `NA`.
#'
#' @inheritParams fitted.flash
#' @return An \eqn{n \times p} matrix with the data's row and column names.
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#' r <- residuals(fit)
#' sd(r)
#' fit$residuals_sd
#' @importFrom stats residuals
#' @export
residuals.flash <- function(object, ...) {
  residuals.flash_fit(object$flash_fit)
}

#' @rdname residuals.flash
#' @export
residuals.flash_fit <- function(object, ...) {
  Y <- dense_data(object$Y)
  if (n_factors_fit(object) == 0) {
    out <- Y
  } else {
    out <- Y - tcrossprod(as.matrix(object$L), as.matrix(object$F))
  }
  out[is.na(Y)] <- NA
  dimnames(out) <- dimnames(Y)
  out
}
