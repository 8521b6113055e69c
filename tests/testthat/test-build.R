test_that("the Rust library is loaded and answers", {
  expect_identical(rust_ping(), 42L)
  expect_identical(rust_core_version(), as.character(packageVersion("flashierrs")))
})

test_that("a Rust panic becomes an R error and R carries on", {
  expect_error(rust_panic_test(), "deliberate panic")
  # R (and the Rust library) still work after the panic was caught.
  expect_identical(rust_ping(), 42L)
  expect_equal(sum(1:10), 55)
})
