# The main job: fit the gtex data, print the fit, plot the factors.
library(flashierrs)
data(gtex, gtex_colors)
fit <- flash(gtex, greedy_Kmax = 5)
print(fit)
png("gtex_factors.png", width = 1200, height = 900, res = 120)
print(plot(fit, pm_colors = gtex_colors, include_scree = FALSE))
invisible(dev.off())
cat("Wrote gtex_factors.png\n")
