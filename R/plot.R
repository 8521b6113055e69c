#' Plot a flash object
#'
#' A scree plot of the proportion of variance explained by each factor, and
#' bar plots of the posterior means of the factors (or loadings), one panel
#' per factor. Each plot is a ggplot2 object, so layers can be added.
#'
#' @param x A `flash` object.
#' @param include_scree Whether to include the scree plot.
#' @param include_pm Whether to include the plot of posterior means.
#' @param order_by_pve Whether to order the factors by PVE.
#' @param kset The factors to plot (default: all).
#' @param pm_which Plot the `"factors"` or the `"loadings"`.
#' @param pm_subset Names or indices of the rows (loadings) or columns
#'   (factors) to include.
#' @param pm_groups Ignored at present (accepted for compatibility).
#' @param pm_colors Colours of the bars, one per plotted value.
#' @param ... Ignored.
#'
#' @return One ggplot object when only one plot is asked for; otherwise a
#'   list of two (`scree`, `pm`), printed one after the other.
#' @examples
#' data(gtex, gtex_colors)
#' fit <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#' plot(fit, include_scree = FALSE, pm_colors = gtex_colors)
#' @export
plot.flash <- function(x, include_scree = TRUE, include_pm = TRUE,
                       order_by_pve = TRUE, kset = NULL,
                       pm_which = c("factors", "loadings"), pm_subset = NULL,
                       pm_groups = NULL, pm_colors = NULL, ...) {
  pm_which <- match.arg(pm_which)
  k <- x$n_factors
  if (k == 0) {
    stop("Argument 'x': the flash object has no factors to plot.",
         call. = FALSE)
  }
  if (is.null(kset)) {
    kset <- seq_len(k)
  }
  if (!is.numeric(kset) || any(kset != round(kset)) || any(kset < 1) ||
      any(kset > k)) {
    abort_arg("kset", "must hold factor indices between 1 and ", k, ".")
  }
  if (order_by_pve) {
    kset <- kset[order(x$pve[kset], decreasing = TRUE)]
  }
  plots <- list()
  if (include_scree) {
    scree <- data.frame(k = factor(kset, levels = kset), pve = x$pve[kset])
    plots$scree <- ggplot2::ggplot(scree, ggplot2::aes(x = .data$k,
                                                       y = .data$pve)) +
      ggplot2::geom_point() +
      ggplot2::geom_line(ggplot2::aes(group = 1)) +
      ggplot2::labs(x = "Factor", y = "PVE") +
      ggplot2::theme_minimal()
  }
  if (include_pm) {
    pm <- if (pm_which == "factors") x$F_pm else x$L_pm
    labels <- rownames(pm)
    if (is.null(labels)) labels <- as.character(seq_len(nrow(pm)))
    rows <- seq_len(nrow(pm))
    if (!is.null(pm_subset)) {
      rows <- if (is.character(pm_subset)) match(pm_subset, labels) else pm_subset
      if (anyNA(rows) || any(rows < 1) || any(rows > nrow(pm))) {
        abort_arg("pm_subset", "must name or index rows of the ",
                  pm_which, " (1 to ", nrow(pm), ").")
      }
    }
    if (!is.null(pm_colors) && length(pm_colors) < length(rows)) {
      if (length(pm_colors) != nrow(pm)) {
        abort_arg("pm_colors", "must have one colour per plotted value (",
                  length(rows), "); got ", length(pm_colors), ".")
      }
    }
    if (!is.null(pm_colors) && length(pm_colors) == nrow(pm)) {
      pm_colors <- pm_colors[rows]
    }
    df <- do.call(rbind, lapply(kset, function(kk) {
      data.frame(k = paste("Factor", kk), label = labels[rows],
                 value = pm[rows, kk], stringsAsFactors = FALSE)
    }))
    df$k <- factor(df$k, levels = paste("Factor", kset))
    df$label <- factor(df$label, levels = labels[rows])
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$label, y = .data$value,
                                          fill = .data$label)) +
      ggplot2::geom_col(show.legend = FALSE) +
      ggplot2::facet_wrap(~ k, scales = "free_y") +
      ggplot2::labs(x = NULL, y = "Posterior mean") +
      ggplot2::theme_minimal() +
      ggplot2::theme(axis.text.x = ggplot2::element_text(angle = 90,
                                                          hjust = 1,
                                                          vjust = 0.5,
                                                          size = 6))
    if (!is.null(pm_colors)) {
      p <- p + ggplot2::scale_fill_manual(values = unname(pm_colors))
    }
    plots$pm <- p
  }
  if (length(plots) == 1) {
    return(plots[[1]])
  }
  class(plots) <- "flash_plots"
  plots
}

#' @export
print.flash_plots <- function(x, ...) {
  for (p in x) print(p)
  invisible(x)
}

#' @importFrom rlang .data
NULL
