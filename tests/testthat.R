# This file is part of the standard setup for testthat.
# It is recommended that you do not modify it.
#
# Where should you do additional testing? Please refer to
# https://testthat.r-lib.org/articles/special-files.html

library(testthat)
library(flashierrs)

test_check("flashierrs")
