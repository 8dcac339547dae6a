"""`benchmark demo`: the whole product on simulated traffic, on the embedded Postgres by default."""
