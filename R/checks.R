# Argument checks shared by the user-facing functions. Every error names the
# argument and says what was wrong with it.

abort_arg <- function(arg, ...) {
  stop("Argument '", arg, "' ", ..., call. = FALSE)
}

check_whole_number <- function(x, arg, lower = -Inf, upper = Inf,
                               allow_null = FALSE) {
  if (is.null(x) && allow_null) {
    return(invisible(x))
  }
  if (!is.numeric(x) || length(x) != 1 || is.na(x) || !is.finite(x) ||
      x != round(x)) {
    abort_arg(arg, "must be a single whole number.")
  }
  if (x < lower || x > upper) {
    if (is.finite(upper)) {
      abort_arg(arg, "must be between ", lower, " and ", upper, ".")
    }
    abort_arg(arg, "must be at least ", lower, ".")
  }
  invisible(x)
}

check_number <- function(x, arg, lower = -Inf, allow_null = TRUE,
                         allow_infinite = FALSE) {
  if (is.null(x) && allow_null) {
    return(invisible(x))
  }
  if (!is.numeric(x) || length(x) != 1 || is.na(x) ||
      (!allow_infinite && !is.finite(x))) {
    abort_arg(arg, "must be a single ",
              if (allow_infinite) "" else "finite ", "number.")
  }
  if (x < lower) {
    abort_arg(arg, "must be at least ", lower, ".")
  }
  invisible(x)
}

check_flag <- function(x, arg) {
  if (!is.logical(x) || length(x) != 1 || is.na(x)) {
    abort_arg(arg, "must be TRUE or FALSE.")
  }
  invisible(x)
}

check_verbose <- function(verbose, arg = "verbose") {
  check_whole_number(verbose, arg, lower = -1, upper = 3)
}

# The data as a double matrix, checked. Missing values (NA) are allowed;
# NaN and infinite values are not.
prepare_data <- function(data) {
  if (inherits(data, "dgCMatrix")) {
    return(prepare_sparse(data))
  }
  if (inherits(data, "Matrix")) {
    abort_arg("data", "is a sparse matrix of class ", class(data)[1],
              "; convert it with as(data, \"CsparseMatrix\") (a dgCMatrix) ",
              "or as.matrix().")
  }
  if (inherits(data, "flashierrs_lowrank")) {
    return(data)
  }
  if (is.list(data) && !is.data.frame(data)) {
    return(prepare_lowrank(data))
  }
  if (is.data.frame(data)) {
    numeric_cols <- vapply(data, function(col) {
      is.numeric(col) || is.logical(col)
    }, logical(1))
    if (!all(numeric_cols)) {
      abort_arg("data", "is a data frame with non-numeric column(s): ",
                paste(names(data)[!numeric_cols], collapse = ", "), ".")
    }
    data <- as.matrix(data)
  }
  if (!is.matrix(data)) {
    abort_arg("data", "must be a matrix (or a data frame of numeric ",
              "columns); got an object of class ", class(data)[1], ".")
  }
  if (!(is.numeric(data) || is.logical(data))) {
    abort_arg("data", "must be numeric; got a ", typeof(data), " matrix.")
  }
  if (nrow(data) < 2 || ncol(data) < 2) {
    abort_arg("data", "must have at least 2 rows and 2 columns; got ",
              nrow(data), " x ", ncol(data), ".")
  }
  if (storage.mode(data) != "double") {
    storage.mode(data) <- "double"
  }
  # One pass in Rust, with no copy of the data (is.nan(), abs() and is.na()
  # would each allocate a matrix of the data's size).
  scan <- scan_data_rs(data, nrow(data))
  if (scan$nan) {
    abort_arg("data", "contains NaN values; use NA for missing entries.")
  }
  if (scan$inf) {
    abort_arg("data", "contains infinite values.")
  }
  check_magnitude(data, "data", big = scan$max_abs)
  if (length(scan$empty_rows) > 0) {
    abort_arg("data", "has rows with no observed values (all NA): ",
              paste(utils::head(scan$empty_rows, 5), collapse = ", "), ".")
  }
  if (length(scan$empty_cols) > 0) {
    abort_arg("data", "has columns with no observed values (all NA): ",
              paste(utils::head(scan$empty_cols, 5), collapse = ", "), ".")
  }
  data
}

# Low-rank data as flashier takes them: any list with fields u, d and v
# (the output of svd(), irlba(), ...), standing for u diag(d) v'. Kept in
# that form (class flashierrs_lowrank) and never made dense for the fit.
prepare_lowrank <- function(data) {
  if (!all(c("u", "d", "v") %in% names(data))) {
    abort_arg("data", "is a list; a list is taken as low-rank data only ",
              "when it has fields u, d and v (as svd() returns).")
  }
  as_mat <- function(x, what) {
    if (is.data.frame(x)) x <- as.matrix(x)
    if (is.null(dim(x))) x <- matrix(x, ncol = 1)
    if (!is.numeric(x) || length(dim(x)) != 2) {
      abort_arg("data", "is low-rank data whose '", what, "' is not a ",
                "numeric matrix.")
    }
    if (any(!is.finite(x))) {
      abort_arg("data", "is low-rank data whose '", what, "' has NA, NaN ",
                "or infinite values.")
    }
    storage.mode(x) <- "double"
    x
  }
  u <- as_mat(data$u, "u")
  v <- as_mat(data$v, "v")
  d <- data$d
  if (!is.numeric(d) || any(!is.finite(d))) {
    abort_arg("data", "is low-rank data whose 'd' is not a finite numeric ",
              "vector.")
  }
  d <- as.double(if (is.matrix(d)) diag(d) else d)
  if (ncol(u) == ncol(v) && length(d) > ncol(u)) {
    # svd(x, nu = k, nv = k) returns every singular value: keep the first k.
    d <- d[seq_len(ncol(u))]
  }
  if (ncol(u) != length(d) || ncol(v) != length(d)) {
    abort_arg("data", "is low-rank data whose u (", ncol(u), " columns), d (",
              length(d), " values) and v (", ncol(v), " columns) disagree ",
              "in rank.")
  }
  if (nrow(u) < 2 || nrow(v) < 2) {
    abort_arg("data", "must have at least 2 rows and 2 columns; got ",
              nrow(u), " x ", nrow(v), ".")
  }
  check_magnitude(d, "data")
  structure(list(u = u, d = d, v = v), class = "flashierrs_lowrank")
}

#' @export
dim.flashierrs_lowrank <- function(x) {
  c(nrow(x$u), nrow(x$v))
}

#' @export
dimnames.flashierrs_lowrank <- function(x) {
  rn <- rownames(x$u)
  cn <- rownames(x$v)
  if (is.null(rn) && is.null(cn)) NULL else list(rn, cn)
}

#' @export
as.matrix.flashierrs_lowrank <- function(x, ...) {
  out <- x$u %*% (x$d * t(x$v))
  dimnames(out) <- dimnames(x)
  out
}

# The data as an ordinary dense matrix (for residuals and plots).
dense_data <- function(Y) {
  if (is.matrix(Y)) Y else as.matrix(Y)
}

# A dgCMatrix is fit without ever being made dense; its zeros are observed
# values, so it may not hold NA.
prepare_sparse <- function(data) {
  d <- data@Dim
  if (d[1] < 2 || d[2] < 2) {
    abort_arg("data", "must have at least 2 rows and 2 columns; got ",
              d[1], " x ", d[2], ".")
  }
  scan <- scan_data_rs(as.double(data@x), 1L)
  if (scan$na || scan$nan) {
    abort_arg("data", "is a sparse matrix with NA entries; missing values ",
              "are not supported in sparse data (use a dense matrix).")
  }
  if (scan$inf) {
    abort_arg("data", "contains infinite values.")
  }
  check_magnitude(data@x, "data", big = scan$max_abs)
  data
}

# Values whose squares overflow cannot be fit; say so instead of returning
# NaN. (Rescaling the data by a constant changes nothing but the scale.)
check_magnitude <- function(x, arg,
                            limit = sqrt(.Machine$double.xmax /
                                           (10 * max(1, length(x)))),
                            big = suppressWarnings(max(abs(x),
                                                       na.rm = TRUE))) {
  if (is.finite(big) && big > limit) {
    abort_arg(arg, "has values as large as ", format(big, digits = 3),
              ", whose sums of squares overflow; rescale it (by a power of ",
              "10) so that all values are below ",
              format(limit, digits = 3), " in size.")
  }
  invisible(x)
}

# The data as the Rust core reads them: a dense double matrix, or a
# dgCMatrix's slots (shared with the object, not copied).
rust_data <- function(Y) {
  if (inherits(Y, "dgCMatrix")) {
    return(list(i = Y@i, p = Y@p, x = Y@x, dim = Y@Dim))
  }
  if (inherits(Y, "flashierrs_lowrank")) {
    return(list(u = Y$u %*% diag(Y$d, nrow = length(Y$d)), v = Y$v,
                dim = as.integer(dim(Y))))
  }
  Y
}

# The variance structure as the Rust core takes it: an integer code (0
# constant, 1 by row, 2 by column, 3 Kronecker) and, when standard errors S
# are given, either the precisions 1 / S^2 in the precision's dimension,
# used as they are (var_type = NULL) or as a ceiling on the estimate, or,
# when S varies along a dimension that is not estimated, the n x p matrix of
# variances S^2 (`s2`) with the estimated component on top (`est`: the code,
# or NA for var_type = NULL).
prepare_variance <- function(var_type, S, n, p) {
  if (!is.null(var_type)) {
    if (!is.numeric(var_type) || anyNA(var_type) ||
        !all(var_type %in% c(0, 1, 2)) ||
        length(var_type) != length(unique(var_type)) ||
        (0 %in% var_type && length(var_type) > 1)) {
      abort_arg("var_type", "must be 0 (constant), 1 (by row), 2 (by ",
                "column), c(1, 2) (Kronecker) or NULL (variance given by S).")
    }
  }
  code <- if (is.null(var_type)) NA_integer_ else
    if (length(var_type) > 1) 3L else as.integer(var_type)
  if (is.null(S)) {
    if (is.na(code)) {
      abort_arg("var_type", "can be NULL only when standard errors 'S' are ",
                "given.")
    }
    return(list(code = code, given = NULL, fixed = FALSE))
  }
  if (!is.numeric(S) || length(S) == 0) {
    abort_arg("S", "must be a positive number, a vector or an n x p matrix ",
              "of standard errors.")
  }
  if (anyNA(S) || any(!is.finite(S)) || any(S <= 0)) {
    abort_arg("S", "must contain only positive, finite values (no NA).")
  }
  entrywise <- function(s2) {
    if (any(s2 < .Machine$double.xmin) || any(s2 > .Machine$double.xmax)) {
      abort_arg("S", "has values whose squares underflow or overflow; ",
                "rescale the data and S together.")
    }
    list(code = if (is.na(code)) 0L else code, given = NULL,
         fixed = is.na(code), s2 = s2, est = code)
  }
  if (is.matrix(S)) {
    if (!identical(dim(S), c(n, p))) {
      abort_arg("S", "is a ", nrow(S), " x ", ncol(S), " matrix; the data are ",
                n, " x ", p, ".")
    }
    if (!all(S == S[1])) {
      storage.mode(S) <- "double"
      return(entrywise(S^2))
    }
    S <- S[1]
  }
  S <- as.vector(S)
  along <- if (length(S) == 1) 0L else if (length(S) == n) 1L else
    if (length(S) == p) 2L else
      abort_arg("S", "has length ", length(S), "; it must be a number or have ",
                "one value per row (", n, ") or per column (", p, ").")
  if (!is.na(code) && (code == 3L || (along != 0L && along != code))) {
    s2 <- matrix(as.double(S^2), n, p, byrow = (along == 2L))
    return(entrywise(s2))
  }
  if (is.na(code)) {
    code <- along
  }
  len <- switch(as.character(code), "0" = 1L, "1" = n, "2" = p)
  given <- rep_len(1 / S^2, len)
  list(code = code, given = given, fixed = is.null(var_type))
}
