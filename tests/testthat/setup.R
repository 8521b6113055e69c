# Tests run the Rust core on one thread (results agree across thread counts
# to 1e-10; see bench/ for multi-threaded timings).
options(flashierrs.threads = 1L)
