"""The registry: configs synced from YAML and benchmark sessions, in Postgres schema ``registry``."""
