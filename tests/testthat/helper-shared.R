# Where the shared reference data live: $FLASHIERRS_SHARED_DATA, or
# ../shared/data beside the repository (tests run from tests/testthat).
shared_data_path <- function(file) {
  dirs <- c(Sys.getenv("FLASHIERRS_SHARED_DATA"),
            file.path("..", "..", "..", "shared", "data"),
            file.path("..", "..", "..", "..", "shared", "data"))
  for (d in dirs[nzchar(dirs)]) {
    path <- file.path(d, file)
    if (file.exists(path)) {
      return(path)
    }
  }
  stop("Reference file ", file, " not found: set FLASHIERRS_SHARED_DATA ",
       "to the folder that holds it.")
}

ebnm_reference <- function() {
  utils::read.csv(shared_data_path("ebnm_reference.csv"),
                  stringsAsFactors = FALSE)
}

gtex_with_missing <- function() {
  utils::data("gtex", package = "flashierrs", envir = environment())
  set.seed(1)
  gtex[sample(length(gtex), 4400)] <- NA
  gtex
}

# |actual - expected| <= tol, with both numbers in the failure message.
expect_near <- function(actual, expected, tol) {
  testthat::expect_true(
    abs(actual - expected) <= tol,
    label = sprintf("|%.4f - (%.4f)| <= %g", actual, expected, tol)
  )
}
