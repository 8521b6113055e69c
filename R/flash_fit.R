# The flash_fit object: everything a fit needs to continue (the data, the
# posterior moments of every factor, the fitted priors, the precision and the
# ELBO), passed to the Rust core at every step.

get_fit <- function(flash, arg = "flash") {
  if (inherits(flash, "flash_fit")) {
    return(flash)
  }
  if (inherits(flash, "flash")) {
    return(flash$flash_fit)
  }
  abort_arg(arg, "must be a flash or flash_fit object.")
}

n_factors_fit <- function(fit) {
  if (is.null(fit$L)) 0L else ncol(fit$L)
}

# Threads for the Rust core: options(flashierrs.threads = n); by default all
# cores.
apply_thread_option <- function() {
  threads <- getOption("flashierrs.threads", parallel::detectCores())
  if (!is.numeric(threads) || length(threads) != 1 || is.na(threads) ||
      threads < 1) {
    stop("Option 'flashierrs.threads' must be a positive whole number.",
         call. = FALSE)
  }
  set_threads_rs(as.integer(threads))
}

# Run one step of the fit in Rust and fold the new state into the fit.
run_rust <- function(fit, op, args = list()) {
  apply_thread_option()
  res <- flash_rs(fit$Y, fit, op, args)
  for (name in c("L", "F", "L2", "F2", "KL", "g_l", "g_f", "tau", "elbo")) {
    fit[name] <- list(res[[name]])
  }
  attr(fit, "rust_extra") <- res[setdiff(names(res), names(fit))]
  fit
}

# The default convergence tolerance n p sqrt(eps).
default_tol <- function(fit) {
  nrow(fit$Y) * ncol(fit$Y) * sqrt(.Machine$double.eps)
}

fit_verbose <- function(fit, verbose) {
  if (is.null(verbose)) {
    verbose <- if (is.null(fit$verbose)) 1L else fit$verbose
  }
  check_verbose(verbose)
  as.integer(verbose)
}

# The flash object a user sees, built from a flash_fit.
wrapup_flash <- function(fit) {
  class(fit) <- c("flash_fit", "list")
  attr(fit, "rust_extra") <- NULL
  k <- n_factors_fit(fit)
  out <- list(n_factors = k)
  if (k > 0) {
    extra <- attr(run_rust(fit, "wrapup",
                           list(solvers = lapply(fit$ebnm, unname))),
                  "rust_extra")
    out$pve <- extra$pve
  }
  out$elbo <- fit$elbo
  out$residuals_sd <- 1 / sqrt(fit$tau)
  if (k > 0) {
    rn <- rownames(fit$Y)
    cn <- colnames(fit$Y)
    out$L_pm <- name_rows(fit$L, rn)
    out$F_pm <- name_rows(fit$F, cn)
    out$L_psd <- name_rows(sqrt(pmax(fit$L2 - fit$L^2, 0)), rn)
    out$F_psd <- name_rows(sqrt(pmax(fit$F2 - fit$F^2, 0)), cn)
    out$L_lfsr <- name_rows(extra$L_lfsr, rn)
    out$F_lfsr <- name_rows(extra$F_lfsr, cn)
    out$L_ghat <- fit$g_l
    out$F_ghat <- fit$g_f
  }
  out$flash_fit <- fit
  class(out) <- c("flash", "list")
  out
}

name_rows <- function(m, names) {
  m <- as.matrix(m)
  rownames(m) <- names
  m
}
