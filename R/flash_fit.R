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
# cores. (parallel::detectCores() takes about 3 ms, so it is asked once.)
core_count <- local({
  cores <- NULL
  function() {
    if (is.null(cores)) {
      cores <<- max(1L, as.integer(parallel::detectCores()), na.rm = TRUE)
    }
    cores
  }
})

apply_thread_option <- function() {
  threads <- getOption("flashierrs.threads", core_count())
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
  args$time_left <- time_left(fit)
  state <- fit
  state$held_dims <- fixed_dims(fit)
  state$held_partial <- partly_fixed(fit)
  res <- flash_rs(rust_data(fit$Y), state, op, args)
  for (name in c("L", "F", "L2", "F2", "KL", "g_l", "g_f", "tau", "est_var",
                  "elbo")) {
    fit[name] <- list(res[[name]])
  }
  attr(fit, "rust_extra") <- res[setdiff(names(res), names(fit))]
  fit
}

# The default convergence tolerance: the one set by flash_set_conv_crit()
# (fit$tol) if any, else n p sqrt(eps). The nullcheck ignores fit$tol
# (conv = FALSE), as in flashier.
default_tol <- function(fit, conv = TRUE) {
  if (conv && !is.null(fit$tol)) {
    return(fit$tol)
  }
  nrow(fit$Y) * ncol(fit$Y) * sqrt(.Machine$double.eps)
}

fit_verbose <- function(fit, verbose) {
  if (is.null(verbose)) {
    verbose <- if (is.null(fit$verbose)) 1L else fit$verbose
  }
  check_verbose(verbose)
  as.integer(verbose)
}

# A fit as it leaves a step: a plain flash_fit, without the Rust call's
# extra results.
bare_fit <- function(fit) {
  class(fit) <- c("flash_fit", "list")
  attr(fit, "rust_extra") <- NULL
  attr(fit, "summaries") <- NULL
  attr(fit, "nullchecked") <- NULL
  fit
}

# The flash object a user sees, built from a flash_fit.
wrapup_flash <- function(fit) {
  # The summaries, when the last step computed them (see nullcheck_fit()).
  extra <- attr(fit, "summaries")
  fit <- bare_fit(fit)
  k <- n_factors_fit(fit)
  out <- list(n_factors = k)
  if (k > 0) {
    if (is.null(extra)) {
      extra <- attr(run_rust(fit, "wrapup",
                             list(solvers = lapply(fit$ebnm, unname))),
                    "rust_extra")
    }
    out$pve <- extra$pve
  }
  out$elbo <- fit$elbo
  if (is.matrix(fit$tau)) {
    out$residuals_sd <- 1 / sqrt(fit$tau)
  } else if (fit$var_type == 3L) {
    n <- nrow(fit$Y)
    out$residuals_sd <- list(1 / sqrt(fit$tau[seq_len(n)]),
                             1 / sqrt(fit$tau[-seq_len(n)]))
  } else {
    out$residuals_sd <- 1 / sqrt(fit$tau)
  }
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
  if (k > 0) {
    out$sampler <- build_sampler(fit)
  }
  out$flash_fit <- fit
  class(out) <- c("flash", "list")
  out
}

# fit$sampler(nsamp): nsamp draws of list(L, F) from the variational
# posterior, using R's random number generator (set.seed() reproduces them).
build_sampler <- function(fit) {
  force(fit)
  function(nsamp) {
    check_whole_number(nsamp, "nsamp", lower = 1)
    samples <- attr(run_rust(fit, "sample", list(nsamp = nsamp)),
                    "rust_extra")$samples
    rn <- rownames(fit$Y)
    cn <- colnames(fit$Y)
    lapply(samples, function(draw) {
      list(name_rows(draw[[1]], rn), name_rows(draw[[2]], cn))
    })
  }
}

name_rows <- function(m, names) {
  m <- as.matrix(m)
  rownames(m) <- names
  m
}

# Seconds left before the time limit set by flash_set_timeout() (Inf when
# there is none).
time_left <- function(fit) {
  if (is.null(fit$timeout)) {
    return(Inf)
  }
  limit <- as.numeric(fit$timeout$limit, units = "secs")
  used <- as.numeric(difftime(Sys.time(), fit$timeout$set_time,
                              units = "secs"))
  limit - used
}

# After a greedy fit or backfit that stopped early: the warning flashier
# gives (a timeout), or ours for a user interrupt.
report_early_stop <- function(fit, what) {
  extra <- attr(fit, "rust_extra")
  if (isTRUE(extra$timed_out)) {
    warning("Fit timed out after ", format(fit$timeout$limit),
            "; returning the ", what, " completed before the time limit.",
            call. = FALSE)
  } else if (isTRUE(extra$user_interrupt)) {
    warning("The fit was interrupted; returning the ", what,
            " completed before the interrupt.", call. = FALSE)
  }
}

# For the Rust core: 1 where a factor's loadings (element 2k - 1) or factor
# values (element 2k) are fixed in full, else 0.
fixed_dims <- function(fit) {
  k <- n_factors_fit(fit)
  out <- numeric(2 * k)
  fixed <- as.list(fit[["fixed"]])
  for (i in seq_len(min(k, length(fixed)))) {
    rec <- fixed[[i]]
    if (!is.null(rec)) {
      len <- if (rec$dim == 1) nrow(fit$Y) else ncol(fit$Y)
      if (length(rec$idx) == len) {
        out[2 * (i - 1) + rec$dim] <- 1
      }
    }
  }
  out
}

# For the Rust core: per factor, NULL or list(dim, idx) when only some of
# its loadings (dim 1) or factor values (dim 2) are fixed.
partly_fixed <- function(fit) {
  k <- n_factors_fit(fit)
  fixed <- as.list(fit[["fixed"]])
  lapply(seq_len(k), function(i) {
    rec <- if (i <= length(fixed)) fixed[[i]] else NULL
    if (is.null(rec)) return(NULL)
    len <- if (rec$dim == 1) nrow(fit$Y) else ncol(fit$Y)
    if (length(rec$idx) == len) NULL else
      list(dim = as.numeric(rec$dim), idx = as.numeric(rec$idx))
  })
}
