# The gtex vignette knits end to end and prints flashier's ELBOs.

test_that("vignettes/intro.Rmd knits and reproduces flashier's numbers", {
  rmd <- file.path("..", "..", "vignettes", "intro.Rmd")
  if (!file.exists(rmd)) {
    rmd <- system.file("doc", "intro.Rmd", package = "flashierrs")
  }
  expect_true(file.exists(rmd))
  out_dir <- tempfile("vignette")
  dir.create(out_dir)
  html <- suppressMessages(rmarkdown::render(rmd, output_dir = out_dir,
                                             intermediates_dir = out_dir,
                                             quiet = TRUE,
                                             envir = new.env()))
  text <- paste(readLines(html, warn = FALSE), collapse = "\n")
  # Every ELBO flashier reports is matched (to its printed digits) or
  # beaten by a little (warm-started mixture priors end a hair higher).
  printed <- as.numeric(regmatches(text, gregexpr("-8[0-9]{4}\\.[0-9]{2}",
                                                  text))[[1]])
  for (elbo in c(-83131.69, -80490.27, -80491.84, -82981.84, -82978.90,
                 -81194.23, -80893.79)) {
    expect_true(any(printed >= elbo - 0.005 & printed <= elbo + 0.05),
                label = format(elbo, nsmall = 2))
  }
  # Four figures: the scree and factor plots, the two factor sets, the
  # credible intervals.
  expect_equal(lengths(regmatches(text, gregexpr("<img", text))), 4)
})
