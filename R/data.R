#' GTEx eQTL z-scores
#'
#' A matrix of z-scores measuring the association between the genotype at a
#' SNP and the expression of a nearby gene, in each of 44 human tissues.
#' Each row is one SNP-gene pair and each column one tissue. The z-scores
#' come from the Genotype-Tissue Expression (GTEx) project (Lonsdale et al.
#' 2013), as processed by Urbut et al. (2019), and were subsampled to 1000
#' SNP-gene pairs, small enough to fit in seconds.
#' The same subsample is distributed with the flashier package under the
#' BSD-3-Clause licence.
#'
#' @format A numeric matrix with 1000 rows and 44 columns. The row names
#'   identify the SNP-gene pair (the gene's Ensembl ID, then the SNP's
#'   chromosome, position, alleles and genome build, joined by `_`); the column
#'   names are the tissues.
#'
#' @source
#' Lonsdale, J. et al. (2013). The Genotype-Tissue Expression (GTEx)
#' project. *Nature Genetics* 45, 580--585.
#'
#' Urbut, S. M., Wang, G., Carbonetto, P. and Stephens, M. (2019). Flexible
#' statistical methods for estimating and testing effects in genomic studies
#' with multiple conditions. *Nature Genetics* 51, 187--195.
#'
#' @seealso [gtex_colors] for one colour per tissue, to use in plots.
#'
#' @examples
#' data(gtex)
#' dim(gtex)
#' colnames(gtex)[1:5]
"gtex"

#' Colours for the GTEx tissues
#'
#' One colour per GTEx tissue, for plots of the [gtex] data, in the same
#' order as the columns of [gtex].
#'
#' @format A named character vector of length 44: the names are the tissues
#'   (the column names of [gtex]) and the values are colours as hexadecimal
#'   strings.
#'
#' @source Distributed with the flashier package (BSD-3-Clause).
#'
#' @examples
#' data(gtex_colors)
#' head(gtex_colors)
"gtex_colors"
