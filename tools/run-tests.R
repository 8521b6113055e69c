# Runs tests/testthat against the *installed* flashierrs (install it first,
# e.g. `make install`), prints a one-line summary ("testthat: N passed,
# N failed") and exits non-zero when any expectation failed or errored.
# Usage, from the package root: Rscript tools/run-tests.R

results <- testthat::test_dir(
  "tests/testthat",
  package = "flashierrs",
  load_package = "installed",
  stop_on_failure = FALSE
)
summary <- as.data.frame(results)
n_failed <- sum(summary$failed) + sum(summary$error)
n_passed <- sum(summary$passed)
n_skipped <- sum(summary$skipped)
cat(sprintf("testthat: %d passed, %d failed, %d skipped\n", n_passed, n_failed, n_skipped))
if (n_failed > 0 || n_passed == 0) quit(status = 1)
