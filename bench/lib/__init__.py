"""What every workload shares: paths and plans (settings), the database (db), server processes
(servers), the load generator (loadgen) and /proc probes (machine). bench/run.py puts bench/ on
sys.path, so these import as `lib.<module>`."""
