# Small fits through every R-facing entry point, for `make memcheck`
# (R under valgrind's memcheck). Keep it small: valgrind is ~50x slower.
library(flashierrs)
options(flashierrs.threads = 1L)
set.seed(1)
Y <- matrix(rnorm(60 * 20), 60, 20) + outer(rnorm(60), rnorm(20))
Y[sample(length(Y), 30)] <- NA
fit <- flash(Y, greedy_Kmax = 2, backfit = TRUE, verbose = 0)
fit2 <- flash(Y, var_type = c(1, 2), greedy_Kmax = 1, verbose = 0)
fit3 <- flash(Y, S = 1, var_type = 2, ebnm_fn = c(ebnm_point_normal,
                                                  ebnm_point_exponential),
              greedy_Kmax = 1, verbose = 0)
invisible(fit$sampler(3))
x <- rnorm(50)
for (fn in list(ebnm_point_normal, ebnm_point_laplace, ebnm_normal_scale_mixture,
                ebnm_unimodal, ebnm_npmle)) {
  invisible(fn(x, 1, output = ebnm_output_all()))
}
try(flash(matrix("a", 2, 2)), silent = TRUE)
try(flash(Y, ebnm_fn = function(x, s, ...) stop("boom"), verbose = 0),
    silent = TRUE)
cat("memcheck script finished\n")
