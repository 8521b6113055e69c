#' Print a flash object
#'
#' A short summary: the number of factors, the proportion of variance each
#' explains, the ELBO and the residual variance structure.
#'
#' @param x A `flash` object.
#' @param ... Ignored.
#' @return `x`, invisibly.
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 2, verbose = 0)
#' print(fit)
#' @export
print.flash <- function(x, ...) {
  k <- x$n_factors
  if (k == 0) {
    cat("Flash object with zero factors.\n")
  } else if (k == 1) {
    cat("Flash object with one factor.\n")
    cat(sprintf("  Proportion of variance explained: %.3f\n", x$pve))
  } else {
    cat("Flash object with", k, "factors.\n")
    cat("  Proportion of variance explained:\n")
    for (i in seq_len(k)) {
      cat(sprintf("    Factor %d: %.3f\n", i, x$pve[i]))
    }
  }
  cat(sprintf("  Variational lower bound: %.3f\n", x$elbo))
  vt <- x$flash_fit$var_type
  cat("  Residual variance: ",
      switch(as.character(vt), "0" = "constant", "1" = "by row",
             "2" = "by column", "other"), "\n", sep = "")
  invisible(x)
}

#' Fitted values of a flash object
#'
#' The posterior mean of \eqn{L F'}.
#'
#' @param object A `flash` object.
#' @param ... Ignored.
#' @return An \eqn{n \times p} matrix.
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 2, verbose = 0)
#' dim(fitted(fit))
#' @export
fitted.flash <- function(object, ...) {
  fit <- object$flash_fit
  out <- if (n_factors_fit(fit) == 0) {
    matrix(0, nrow(fit$Y), ncol(fit$Y))
  } else {
    fit$L %*% t(fit$F)
  }
  dimnames(out) <- dimnames(fit$Y)
  out
}
