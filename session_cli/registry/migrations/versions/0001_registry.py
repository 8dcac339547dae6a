"""Registry: configs (one table per kind, with fingerprint history) and sessions.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
create table registry.providers (
    name text primary key,
    route_name text not null,
    api_key_env text not null,
    protocols text[] not null,
    models jsonb not null,
    source_path text not null,
    fingerprint text not null,
    spec jsonb not null,
    synced_at timestamptz not null default now()
);

create table registry.harness_profiles (
    name text primary key,
    protocol text not null,
    model_roles text[] not null,
    source_path text not null,
    fingerprint text not null,
    spec jsonb not null,
    synced_at timestamptz not null default now()
);

create table registry.variants (
    name text primary key,
    provider text not null,
    model_alias text not null,
    background_model_alias text,
    harness text not null,
    tags jsonb not null default '{}'::jsonb,
    source_path text not null,
    fingerprint text not null,
    spec jsonb not null,
    synced_at timestamptz not null default now()
);

create table registry.experiments (
    name text primary key,
    description text not null,
    baseline_variant text not null,
    source_path text not null,
    fingerprint text not null,
    spec jsonb not null,
    synced_at timestamptz not null default now()
);

create table registry.experiment_variants (
    experiment text not null references registry.experiments (name) on delete cascade,
    variant text not null,
    position integer not null,
    is_baseline boolean not null,
    primary key (experiment, variant)
);

create table registry.task_cards (
    name text primary key,
    goal text not null,
    starting_prompt text not null,
    stop_condition text not null,
    timebox_minutes integer not null,
    repo_path text,
    notes text,
    source_path text not null,
    fingerprint text not null,
    spec jsonb not null,
    synced_at timestamptz not null default now()
);

-- every fingerprint ever synced, so a session's recorded fingerprint always resolves to its spec
create table registry.config_history (
    kind text not null,
    name text not null,
    fingerprint text not null,
    spec jsonb not null,
    first_seen_at timestamptz not null default now(),
    primary key (kind, name, fingerprint)
);

create table registry.sessions (
    session_id uuid primary key,
    experiment text not null,
    variant text not null,
    task_card text not null,
    harness text not null,
    provider text not null,
    model_alias text not null,
    background_model_alias text,
    status text not null default 'active'
        check (status in ('active', 'completed', 'failed', 'aborted')),
    outcome text check (outcome in ('valid', 'invalid')),
    label text,
    notes text,
    operator text,
    started_at timestamptz not null default now(),
    ended_at timestamptz,
    git_repo_root text,
    git_branch text,
    git_commit text,
    git_dirty boolean,
    litellm_base_url text not null,
    -- the key itself is never stored: only its sha256, alias and lifecycle
    key_backend text not null check (key_backend in ('litellm', 'local')),
    key_alias text not null unique,
    key_hash text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
    key_expires_at timestamptz,
    key_revoked_at timestamptz,
    key_metadata jsonb not null default '{}'::jsonb,
    config_fingerprints jsonb not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (ended_at is null or ended_at >= started_at),
    check ((status = 'active') = (ended_at is null))
);

create index sessions_experiment_variant_idx on registry.sessions (experiment, variant);
create index sessions_status_idx on registry.sessions (status);
create index sessions_ended_at_idx on registry.sessions (ended_at);
"""

DOWNGRADE = """
drop table registry.sessions;
drop table registry.config_history;
drop table registry.task_cards;
drop table registry.experiment_variants;
drop table registry.experiments;
drop table registry.variants;
drop table registry.harness_profiles;
drop table registry.providers;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
