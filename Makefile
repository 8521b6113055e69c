# Developer and CI entry points for flashierrs (GNU make).
#   make deps     Debian packages needed to build, test and document (apt-get)
#   make install  R CMD INSTALL . (incremental: the cargo target dir is kept)
#   make test     cargo tests of the Rust core, then the R tests (installed pkg)
#   make demo     fit the gtex data and write gtex_factors.png
#   make bench    Rscript bench/run.R
#   make vignette render vignettes/*.Rmd to HTML next to the sources
#   make check    R CMD build + R CMD check --no-manual (full cargo build)
#   make fuzz     the EBNM property test on 1e5 random cases (hours)
#   make document roxygen2: NAMESPACE and man/

R ?= R
RSCRIPT ?= Rscript
PKG := flashierrs
VERSION := $(shell sed -n 's/^Version: *//p' DESCRIPTION)
TARBALL := $(PKG)_$(VERSION).tar.gz

# cargo installed by rustup may not be on PATH in non-login shells.
export PATH := $(PATH):$(HOME)/.cargo/bin

DEB_PACKAGES := r-base-dev r-cran-testthat r-cran-ggplot2 r-cran-matrix \
	r-cran-knitr r-cran-rmarkdown r-cran-cli r-cran-magrittr r-cran-roxygen2 \
	r-cran-cowplot pandoc
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps install test test-rust test-r demo bench vignette check document fuzz memcheck

all: install

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	else \
	  echo "deps: all Debian packages already installed"; \
	fi
	@command -v cargo >/dev/null || { echo "deps: cargo not found: install Rust (rustup) first" >&2; exit 1; }

install:
	$(R) CMD INSTALL .

test-rust:
	cd src/rust && cargo test -p flashierrs-core --release $(if $(FLASHIERRS_TARGET_DIR),--target-dir $(FLASHIERRS_TARGET_DIR),)

test-r: install
	$(RSCRIPT) tools/run-tests.R

test: deps test-rust test-r

demo: deps install
	$(RSCRIPT) inst/scripts/demo.R

bench: install
	$(RSCRIPT) bench/run.R

vignette: install
	$(RSCRIPT) -e 'for (f in Sys.glob("vignettes/*.Rmd")) rmarkdown::render(f)'

document:
	$(RSCRIPT) -e 'roxygen2::roxygenise()'

check:
	rm -f $(TARBALL)
	$(R) CMD build .
	_R_CHECK_FORCE_SUGGESTS_=false $(R) CMD check --no-manual $(TARBALL)

# R under valgrind's memcheck on small inputs through every R-facing entry
# point (opt-in: several minutes). Needs Debian's valgrind. The summary's
# "definitely lost" and "Invalid read/write" lines are what to look at; R
# itself keeps some memory reachable at exit.
memcheck: install
	command -v valgrind >/dev/null || $(SUDO) apt-get install -y valgrind
	$(R) -d "valgrind --tool=memcheck --leak-check=full --error-exitcode=1" --vanilla -f tools/memcheck.R 2>&1 | tee memcheck.log | tail -30

# Every EBNM family on 1e5 random normal-means problems (see the comment at
# the top of src/rust/core/tests/fuzz_ebnm.rs; the default cargo test runs a
# few thousand).
fuzz:
	cd src/rust && FLASHIERRS_FUZZ_CASES=100000 cargo test -p flashierrs-core --release --test fuzz_ebnm -- --nocapture
