{#- Defensive jsonb parsing for spend-log payloads: a malformed value becomes NULL, never a failed build. -#}

{#- A jsonb object, whether stored as an object or as a JSON-encoded string (LiteLLM's API and some
    versions serialise `metadata` as a string). Anything else is NULL. -#}
{% macro jsonb_object(expr) -%}
    (case jsonb_typeof({{ expr }})
        when 'object' then {{ expr }}
        when 'string' then
            case when left(ltrim(({{ expr }}) #>> '{}'), 1) = '{' then (({{ expr }}) #>> '{}')::jsonb end
    end)
{%- endmacro %}

{#- text -> numeric when it is a plain number, else NULL -#}
{% macro safe_numeric(text_expr) -%}
    (case when ({{ text_expr }}) ~ '^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$' then ({{ text_expr }})::numeric end)
{%- endmacro %}

{#- text -> bigint when it is an integral number ("12" or "12.0"), else NULL -#}
{% macro safe_bigint(text_expr) -%}
    (case when ({{ text_expr }}) ~ '^-?[0-9]+(\.0+)?$' then ({{ text_expr }})::numeric::bigint end)
{%- endmacro %}

{#- milliseconds between two timestamptz values, as double precision (exact for the ms precision
    LiteLLM stores) -#}
{% macro ms_between(from_ts, to_ts) -%}
    (extract(epoch from ({{ to_ts }}) - ({{ from_ts }})) * 1000)::double precision
{%- endmacro %}

{#- seconds between two timestamptz values, as double precision -#}
{% macro seconds_between(from_ts, to_ts) -%}
    (extract(epoch from ({{ to_ts }}) - ({{ from_ts }})))::double precision
{%- endmacro %}

{#- the UTC hour a timestamptz falls in, as timestamptz -#}
{% macro utc_hour(ts) -%}
    date_trunc('hour', {{ ts }}, 'UTC')
{%- endmacro %}

{#- a SQL list literal from a list of strings: ('a', 'b') -#}
{% macro sql_string_list(values) -%}
    ({%- for v in values -%}'{{ v | replace("'", "''") }}'{%- if not loop.last -%}, {% endif -%}{%- endfor -%})
{%- endmacro %}

{#- percentile_cont interpolates in double precision (6800 comes out as 6800.000000000001): round
    millisecond/second figures to 3 decimals so equal inputs give equal, exact-looking outputs -#}
{% macro round3(expr) -%}
    round(({{ expr }})::numeric, 3)::double precision
{%- endmacro %}
