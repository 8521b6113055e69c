#' LDF decomposition of a flash fit
#'
#' Rescales the posterior means of the loadings \eqn{L} and the factors
#' \eqn{F} so that every column has unit norm, and collects the scale in a
#' diagonal matrix \eqn{D}, so that \eqn{L D F'} equals the fitted values
#' \eqn{E(L) E(F)'} (see [fitted.flash()]).
#'
#' With prior families that are closed under scaling (all those of
#' flashierrs), the EBMF model \eqn{Y = L F' + E} is identified only up to a
#' rescaling of each column of \eqn{L} by a constant \eqn{c_k} and of the
#' matching column of \eqn{F} by \eqn{1 / c_k}; the LDF form
#' \eqn{Y = L D F' + E} removes that freedom by fixing a norm.
#'
#' A factor/loadings pair whose posterior mean is zero gets zero columns in
#' `L` and `F` and a zero in `D`.
#'
#' @param object A `flash` or `flash_fit` object with at least one factor.
#' @param type The norm that is set to 1 for each column, named as for
#'   [base::norm()]: `"f"`, `"2"` or `"l2"` for the 2-norm (Euclidean);
#'   `"o"`, `"1"` or `"l1"` for the 1-norm (sum of absolute values); `"i"`,
#'   `"m"` or `"max"` for the maximum absolute value. Case is ignored.
#'
#' @return A list with elements `L` (\eqn{n \times K}, rows named as the
#'   rows of the data), `D` (a vector of length \eqn{K}: the diagonal of
#'   \eqn{D}) and `F` (\eqn{p \times K}, rows named as the columns of the
#'   data). The fitted values are `L %*% diag(D, K) %*% t(F)`.
#'
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#' res <- ldf(fit, type = "2")
#' colSums(res$F^2)  # all 1
#' res$D
#' all.equal(res$L %*% diag(res$D) %*% t(res$F), fitted(fit),
#'           check.attributes = FALSE)
#'
#' # Scaled so that the largest absolute value of each factor is 1:
#' round(head(ldf(fit, type = "m")$F), 2)
#' @export
ldf <- function(object, type = "f") {
  UseMethod("ldf")
}

#' @rdname ldf
#' @export
ldf.flash <- function(object, type = "f") {
  ldf.flash_fit(object$flash_fit, type = type)
}

#' @rdname ldf
#' @export
ldf.flash_fit <- function(object, type = "f") {
  norm_type <- ldf_norm_type(type)
  k <- n_factors_fit(object)
  if (k == 0) {
    abort_arg("object", "has no factors, so it has no LDF decomposition.")
  }
  lmat <- as.matrix(object$L)
  fmat <- as.matrix(object$F)
  l_norm <- column_norms(lmat, norm_type)
  f_norm <- column_norms(fmat, norm_type)
  zero <- l_norm == 0 | f_norm == 0
  l_norm[zero] <- Inf
  f_norm[zero] <- Inf
  lmat <- sweep(lmat, 2, l_norm, "/")
  fmat <- sweep(fmat, 2, f_norm, "/")
  d <- l_norm * f_norm
  d[zero] <- 0
  dimnames(lmat) <- list(rownames(object$Y), NULL)
  dimnames(fmat) <- list(colnames(object$Y), NULL)
  list(L = lmat, D = unname(d), F = fmat)
}

# The norm of ldf(): "f" (2-norm), "o" (1-norm) or "i" (max norm).
ldf_norm_type <- function(type) {
  if (!is.character(type) || length(type) != 1 || is.na(type)) {
    abort_arg("type", "must be a single string: \"f\", \"2\" or \"l2\" ",
              "(2-norm), \"o\", \"1\" or \"l1\" (1-norm), \"i\" or \"m\" ",
              "(maximum norm).")
  }
  t <- tolower(type)
  if (t %in% c("f", "2", "l2")) return("f")
  if (t %in% c("o", "1", "l1")) return("o")
  if (t %in% c("i", "m", "max")) return("i")
  abort_arg("type", "must be \"f\", \"2\" or \"l2\" (2-norm), \"o\", \"1\" ",
            "or \"l1\" (1-norm), \"i\" or \"m\" (maximum norm); got \"",
            type, "\".")
}

column_norms <- function(X, norm_type) {
  switch(norm_type,
         f = sqrt(colSums(X^2)),
         o = colSums(abs(X)),
         i = apply(abs(X), 2, max))
}

#' @rdname ldf
#' @export
ldf.default <- function(object, type = "f") {
  abort_arg("object", "must be a flash or flash_fit object; got an object ",
            "of class ", class(object)[1], ".")
}
