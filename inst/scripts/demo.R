# Fits flash to the gtex data and saves a plot of the factors.
# Run from anywhere with `make demo` (or Rscript inst/scripts/demo.R after
# installing the package); writes gtex_factors.png in the working directory.
library(flashierrs)

data(gtex)
fit <- flash(gtex, greedy_Kmax = 5)
print(fit)

png("gtex_factors.png", width = 1600, height = 1000, res = 150)
print(plot(fit))
dev.off()
cat("Wrote", normalizePath("gtex_factors.png"), "\n")
