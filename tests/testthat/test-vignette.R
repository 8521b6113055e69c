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
  for (elbo in c("-83131.69", "-80490.27", "-80491.84", "-82981.84",
                 "-82978.90", "-81194.23", "-80893.79")) {
    expect_true(grepl(elbo, text, fixed = TRUE), label = elbo)
  }
  # Four figures: the scree and factor plots, the two factor sets, the
  # credible intervals.
  expect_equal(lengths(regmatches(text, gregexpr("<img", text))), 4)
})
