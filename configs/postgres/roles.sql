-- Databases and roles of the local stack. Run by init.sh (first start of an empty data volume) with
-- psql variables; safe to re-run (`make db-roles` style): roles and databases are created only when
-- missing, passwords and grants are (re)applied every time.
--
-- Variables (psql -v name=value):
--   benchmark_db, benchmark_role, benchmark_password       registry, raw, staging, intermediate, marts,
--                                                          and Dagster's run/event storage
--   litellm_db, litellm_role, litellm_password             LiteLLM's own database (Prisma owns its tables)
--   litellm_reader_role, litellm_reader_password           the pipeline reads spend logs through it
--   grafana_role, grafana_password                         Grafana: read-only, schema marts only
--   litellm_dbless_role, litellm_dbless_password           the database-less proxy (compose profile dbless):
--                                                          reads registry.sessions (session keys), inserts
--                                                          "LiteLLM_SpendLogs" rows; an empty password
--                                                          leaves the role unable to log in
--
-- Run as a superuser (the image's POSTGRES_USER). psql does not expand variables inside dollar
-- quotes, so conditional DDL is built with format() and run with \gexec.

\set ON_ERROR_STOP on
set client_min_messages = warning;

-- ---------------------------------------------------------------------------------------------
-- roles (cluster-wide)
-- ---------------------------------------------------------------------------------------------
select format('create role %I login', name)
from unnest(array[:'benchmark_role', :'litellm_role', :'litellm_reader_role', :'grafana_role', :'litellm_dbless_role']) as name
where not exists (select from pg_roles where rolname = name)
\gexec

select format('alter role %I with login nosuperuser nocreatedb nocreaterole password %L', :'benchmark_role', :'benchmark_password') \gexec
select format('alter role %I with login nosuperuser nocreatedb nocreaterole password %L', :'litellm_role', :'litellm_password') \gexec
select format('alter role %I with login nosuperuser nocreatedb nocreaterole password %L', :'litellm_reader_role', :'litellm_reader_password') \gexec
select format('alter role %I with login nosuperuser nocreatedb nocreaterole password %L', :'grafana_role', :'grafana_password') \gexec
select format('alter role %I with login nosuperuser nocreatedb nocreaterole password %s', :'litellm_dbless_role',
              coalesce(quote_literal(nullif(:'litellm_dbless_password', '')), 'null')) \gexec

-- the read-only roles cannot write even by accident, and a runaway dashboard query is cut off
select format('alter role %I set default_transaction_read_only = on', :'grafana_role') \gexec
select format('alter role %I set statement_timeout = %L', :'grafana_role', '30s') \gexec
select format('alter role %I set default_transaction_read_only = on', :'litellm_reader_role') \gexec

-- ---------------------------------------------------------------------------------------------
-- databases
-- ---------------------------------------------------------------------------------------------
select format('create database %I owner %I', :'benchmark_db', :'benchmark_role')
where not exists (select from pg_database where datname = :'benchmark_db')
\gexec
select format('create database %I owner %I', :'litellm_db', :'litellm_role')
where not exists (select from pg_database where datname = :'litellm_db')
\gexec

-- (also when the database already existed, e.g. created by hand or by a test)
select format('alter database %I owner to %I', :'benchmark_db', :'benchmark_role') \gexec
select format('alter database %I owner to %I', :'litellm_db', :'litellm_role') \gexec

-- nobody connects to a database unless granted here
select format('revoke all on database %I from public', :'benchmark_db') \gexec
select format('revoke all on database %I from public', :'litellm_db') \gexec
select format('grant connect, temporary on database %I to %I', :'benchmark_db', :'benchmark_role') \gexec
select format('grant connect on database %I to %I', :'benchmark_db', :'grafana_role') \gexec
select format('grant connect, temporary on database %I to %I', :'litellm_db', :'litellm_role') \gexec
select format('grant connect on database %I to %I', :'litellm_db', :'litellm_reader_role') \gexec
select format('grant connect on database %I to %I', :'benchmark_db', :'litellm_dbless_role') \gexec
select format('grant connect on database %I to %I', :'litellm_db', :'litellm_dbless_role') \gexec
-- the database-less proxy writes in the litellm database only
select format('alter role %I in database %I set default_transaction_read_only = on', :'litellm_dbless_role', :'benchmark_db') \gexec

-- ---------------------------------------------------------------------------------------------
-- benchmark database: marts readable by Grafana, nothing else
-- ---------------------------------------------------------------------------------------------
\connect :"benchmark_db"
\set ON_ERROR_STOP on
set client_min_messages = warning;

-- dbt (running as the benchmark role) and the statistics asset write marts; create it now so the
-- grants below exist before the first table does
select format('create schema if not exists marts authorization %I', :'benchmark_role') \gexec
select format('alter schema marts owner to %I', :'benchmark_role') \gexec
select format('revoke all on schema public from %I', :'grafana_role') \gexec
select format('grant usage on schema marts to %I', :'grafana_role') \gexec
select format('grant select on all tables in schema marts to %I', :'grafana_role') \gexec
-- tables and views the benchmark role creates later (every dbt build re-creates them)
select format('alter default privileges for role %I in schema marts grant select on tables to %I', :'benchmark_role', :'grafana_role') \gexec

-- the database-less proxy's plugin looks session keys up in registry.sessions. The registry tables
-- are created later by `benchmark config init-db` (the init service) as the benchmark role, in this
-- schema (its migration creates the schema only if missing): default privileges cover them. They hold
-- configuration and session rows (key hashes, never keys); the role reads nothing outside registry.
select format('create schema if not exists registry authorization %I', :'benchmark_role') \gexec
select format('revoke all on schema public from %I', :'litellm_dbless_role') \gexec
select format('grant usage on schema registry to %I', :'litellm_dbless_role') \gexec
select format('grant select on all tables in schema registry to %I', :'litellm_dbless_role') \gexec
select format('alter default privileges for role %I in schema registry grant select on tables to %I', :'benchmark_role', :'litellm_dbless_role') \gexec

-- ---------------------------------------------------------------------------------------------
-- litellm database: the pipeline reads LiteLLM_SpendLogs, never writes
-- ---------------------------------------------------------------------------------------------
\connect :"litellm_db"
\set ON_ERROR_STOP on
set client_min_messages = warning;

select format('alter schema public owner to %I', :'litellm_role') \gexec
select format('grant usage on schema public to %I', :'litellm_reader_role') \gexec
select format('grant select on all tables in schema public to %I', :'litellm_reader_role') \gexec
-- LiteLLM's Prisma migrations create the tables on its first start, as the litellm role
select format('alter default privileges for role %I in schema public grant select on tables to %I', :'litellm_role', :'litellm_reader_role') \gexec

-- the database-less proxy (profile dbless) appends rows to "LiteLLM_SpendLogs", which the
-- database-backed proxy's Prisma migrations create: insert only, no read, update or delete (its writer
-- skips request_ids already present with ON CONFLICT DO NOTHING, which needs no read). Postgres cannot
-- grant on a table before it exists, so the grant covers LiteLLM's tables (default privileges); the
-- proxy holds LiteLLM's master key anyway, which already lets it mint keys.
select format('grant usage on schema public to %I', :'litellm_dbless_role') \gexec
select format('grant insert on all tables in schema public to %I', :'litellm_dbless_role') \gexec
select format('alter default privileges for role %I in schema public grant insert on tables to %I', :'litellm_role', :'litellm_dbless_role') \gexec
