# Benchmarks of flashierrs: prints seconds (median of repeated runs), peak
# memory and the ELBO of each fit, next to flashier 1.0.7's time on this
# machine kind (2 cores). Run with `make bench` (after `make install`).
#
# Usage: Rscript bench/run.R [quick]

suppressPackageStartupMessages(library(flashierrs))
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args

# Peak resident memory of this process so far (Linux), in MB.
peak_rss_mb <- function() {
  status <- readLines("/proc/self/status")
  line <- grep("^VmHWM:", status, value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}

time_fit <- function(expr_fn, reps) {
  times <- numeric(reps)
  fit <- NULL
  for (i in seq_len(reps)) {
    gc()
    t0 <- proc.time()[["elapsed"]]
    fit <- expr_fn()
    times[i] <- proc.time()[["elapsed"]] - t0
  }
  list(seconds = stats::median(times), fit = fit)
}

simulate <- function(n, p, k, seed) {
  set.seed(seed)
  L <- matrix(rnorm(n * k), n, k) * matrix(rbinom(n * k, 1, 0.3), n, k)
  F <- matrix(rnorm(p * k), p, k)
  L %*% t(F) + matrix(rnorm(n * p), n, p)
}

data(gtex, package = "flashierrs")
fits <- list(
  list(name = "gtex, defaults, greedy_Kmax = 5", flashier = 0.42, reps = 5,
       fn = function() flash(gtex, greedy_Kmax = 5, verbose = 0)),
  list(name = "gtex, var_type = 2, greedy_Kmax = 5", flashier = NA, reps = 5,
       fn = function() flash(gtex, greedy_Kmax = 5, var_type = 2, verbose = 0))
)
if (!quick) {
  big <- simulate(10000, 1000, 10, 1)
  fits <- c(fits, list(
    list(name = "simulated 10000 x 1000, rank 10, greedy_Kmax = 15",
         flashier = 48, reps = 1,
         fn = function() flash(big, greedy_Kmax = 15, verbose = 0))
  ))
}

rows <- lapply(fits, function(b) {
  res <- time_fit(b$fn, b$reps)
  data.frame(fit = b$name, seconds = round(res$seconds, 3),
             flashier_seconds = b$flashier,
             speedup = round(b$flashier / res$seconds, 1),
             K = res$fit$n_factors, elbo = round(res$fit$elbo, 2),
             peak_rss_mb = round(peak_rss_mb()))
})
table <- do.call(rbind, rows)
print(table, row.names = FALSE)
cat(sprintf("\nR %s, %d cores\n", getRversion(), parallel::detectCores()))
