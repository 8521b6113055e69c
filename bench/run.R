# Benchmarks of flashierrs: seconds (median of repeated runs), peak memory
# and ELBO of each fit, next to flashier 1.0.7's time on this machine kind (2
# cores; the issue tracker's figures). Run with `make bench` after
# `make install`; `Rscript bench/run.R quick` skips the large simulations;
# `Rscript bench/run.R sparse` adds the 100000 x 10000 sparse fit (minutes).

suppressPackageStartupMessages(library(flashierrs))
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args
with_sparse <- "sparse" %in% args

# Peak resident memory of this process so far (Linux), in MB.
peak_rss_mb <- function() {
  status <- readLines("/proc/self/status")
  line <- grep("^VmHWM:", status, value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}

# Resident memory now (VmRSS) and the peak since the last reset (VmHWM),
# in MB; writing "5" to /proc/self/clear_refs resets the peak (Linux).
rss_mb <- function(field = "VmRSS") {
  status <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep(paste0("^", field, ":"), status,
                                     value = TRUE))) / 1024
}
reset_peak <- function() {
  tryCatch({ writeLines("5", "/proc/self/clear_refs"); TRUE },
           error = function(e) FALSE, warning = function(w) FALSE)
}

# The median of `reps` runs in steady state: one gc() before them, none in
# between (a gc() just before a run costs a small fit about 10 ms of fresh
# pages, which would swamp the gtex timings).
time_it <- function(fn, reps) {
  times <- numeric(reps)
  res <- NULL
  gc()
  for (i in seq_len(reps)) {
    t0 <- proc.time()[["elapsed"]]
    res <- fn()
    times[i] <- proc.time()[["elapsed"]] - t0
  }
  list(seconds = stats::median(times), best = min(times), res = res)
}

simulate <- function(n, p, k, seed) {
  set.seed(seed)
  L <- matrix(rnorm(n * k), n, k) * matrix(rbinom(n * k, 1, 0.3), n, k)
  F <- matrix(rnorm(p * k), p, k)
  L %*% t(F) + matrix(rnorm(n * p), n, p)
}

# The machine's speed when the benchmark runs: shared virtual machines of
# this kind run anywhere from 1x to 2x slower from one minute to the next.
# A fixed scalar workload, timed before and after the fits, says which.
calibrate <- function() {
  t0 <- proc.time()[["elapsed"]]
  s <- 0
  for (i in seq_len(2e6)) s <- s + i %% 7
  proc.time()[["elapsed"]] - t0
}
calibration_before <- calibrate()

data(gtex, package = "flashierrs")
pn_pe <- c(ebnm_point_normal, ebnm_point_exponential)
fits <- list(
  list("gtex, defaults, greedy_Kmax = 5", 0.42, 9,
       function() flash(gtex, greedy_Kmax = 5, verbose = 0)),
  list("gtex, var_type = c(1, 2)", 0.61, 9,
       function() flash(gtex, greedy_Kmax = 5, var_type = c(1, 2),
                        verbose = 0)),
  list("gtex, ebnm_normal_scale_mixture", 1.0, 9,
       function() flash(gtex, greedy_Kmax = 5,
                        ebnm_fn = ebnm_normal_scale_mixture, verbose = 0)),
  list("gtex, ebnm_unimodal_symmetric", 6.2, 3,
       function() flash(gtex, greedy_Kmax = 5,
                        ebnm_fn = ebnm_unimodal_symmetric, verbose = 0)),
  list("gtex, ebnm_npmle", 4.0, 3,
       function() flash(gtex, greedy_Kmax = 5, ebnm_fn = ebnm_npmle,
                        verbose = 0)),
  list("gtex, var_type = 2, pn/pe, backfit", 1.7, 3,
       function() flash(gtex, greedy_Kmax = 5, var_type = 2, ebnm_fn = pn_pe,
                        backfit = TRUE, verbose = 0)),
  list("gtex, greedy_Kmax = 20, var_type = 2, backfit", 7.0, 3,
       function() flash(gtex, greedy_Kmax = 20, var_type = 2, backfit = TRUE,
                        verbose = 0))
)
if (!quick) {
  mid <- simulate(2000, 500, 8, 2)
  big <- simulate(10000, 1000, 10, 1)
  fits <- c(fits, list(
    list("simulated 2000 x 500, rank 8, Kmax = 15, backfit", 21, 1,
         function() flash(mid, greedy_Kmax = 15, backfit = TRUE,
                          verbose = 0)),
    list("simulated 10000 x 1000, rank 10, greedy_Kmax = 15", 48, 1,
         function() flash(big, greedy_Kmax = 15, verbose = 0)),
    list("  the same, flashier's path (extrapolate = FALSE)", 48, 1,
         function() flash_nullcheck(flash_greedy(flash_init(big), Kmax = 15,
                                                 extrapolate = FALSE,
                                                 verbose = 0), verbose = 0))
  ))
}

if (with_sparse) {
  # 100000 x 10000 dgCMatrix, 1% nonzeros plus five sparse rank-one blocks;
  # it is never made dense (that would take 7.5 GiB).
  set.seed(4)
  n_sp <- 100000
  p_sp <- 10000
  nnz <- n_sp * p_sp / 100
  i <- sample.int(n_sp, nnz, replace = TRUE)
  j <- sample.int(p_sp, nnz, replace = TRUE)
  x <- rnorm(nnz)
  for (k in 1:5) {
    rows <- sample(n_sp, 2000)
    cols <- sample(p_sp, 200)
    i <- c(i, rep(rows, times = 200))
    j <- c(j, rep(cols, each = 2000))
    x <- c(x, 1 + rnorm(2000 * 200, sd = 0.1))
  }
  sp <- Matrix::sparseMatrix(i = i, j = j, x = x, dims = c(n_sp, p_sp))
  fits <- c(fits, list(
    list("sparse 100000 x 10000, 1% nonzero, greedy_Kmax = 10", NA, 1,
         function() flash(sp, greedy_Kmax = 10, verbose = 0))
  ))
}

rows <- lapply(fits, function(b) {
  # Memory above what the session held before the fit: its peak during one
  # fit (with the data already in memory) less the resident size before.
  gc()
  can_reset <- reset_peak()
  before <- rss_mb()
  one <- b[[4]]()
  extra <- if (can_reset) rss_mb("VmHWM") - before else NA
  rm(one)
  res <- time_it(b[[4]], b[[3]])
  data.frame(fit = b[[1]], seconds = round(res$seconds, 3),
             best = round(res$best, 3),
             flashier = b[[2]], speedup = round(b[[2]] / res$seconds, 1),
             K = res$res$n_factors, elbo = round(res$res$elbo, 2),
             extra_mb = round(extra))
})
cat("Fits (threads:", getOption("flashierrs.threads", parallel::detectCores()),
    "); extra_mb: peak memory during one fit above the session's before it\n")
print(do.call(rbind, rows), row.names = FALSE)
cat(sprintf(paste0("Calibration loop: %.3f s before the fits, %.3f s after ",
                   "(larger means a busier host; best = fastest run)\n"),
            calibration_before, calibrate()))

# One backfit sweep against streaming the matrix 2K times (the products a
# sweep cannot avoid), on the 10000 x 1000 matrix with its K factors.
if (!quick) {
  apply_threads <- getFromNamespace("apply_thread_option", "flashierrs")
  stream <- getFromNamespace("stream_rs", "flashierrs")
  fl_big <- flash(big, greedy_Kmax = 15, verbose = 0)
  k_big <- fl_big$n_factors
  # The time per sweep is the difference between 25 and 5 sweeps over 20,
  # which leaves out the backfit's fixed costs (setting up, summaries).
  backfit_time <- function(sweeps) {
    time_it(function() flash_backfit(fl_big, maxiter = sweeps, tol = 0,
                                     verbose = 0), 3)$seconds
  }
  per_sweep <- (backfit_time(25) - backfit_time(5)) / 20
  apply_threads()
  t_stream <- stats::median(replicate(5, stream(big, 2 * k_big)))
  cat(sprintf(paste0("\nBackfit sweep over K = %d factors of the 10000 x 1000 ",
                     "matrix: %.3f s; streaming it 2K = %d times: %.3f s; ",
                     "ratio %.2f (target <= 3)\n"),
              k_big, per_sweep, 2 * k_big, t_stream, per_sweep / t_stream))
}

# The EBNM solvers on their own (flashier+ebnm reference: none given).
cat("\nEBNM solvers alone\n")
solver_rows <- lapply(c(1e5, if (!quick) 1e6), function(n) {
  set.seed(3)
  x <- c(rnorm(n * 0.9), rnorm(n * 0.1, sd = 4))
  pn <- time_it(function() ebnm_point_normal(x, 1), 1)
  us <- time_it(function() ebnm_unimodal_symmetric(x, 1), 1)
  data.frame(n = n, point_normal_s = round(pn$seconds, 3),
             unimodal_symmetric_s = round(us$seconds, 3))
})
print(do.call(rbind, solver_rows), row.names = FALSE)
cat(sprintf("\nR %s, %d cores, peak memory %.0f MB\n", getRversion(),
            parallel::detectCores(), peak_rss_mb()))
