"""The command-line front ends of `evkit report`, `evkit sql` and `evkit readiness`."""
