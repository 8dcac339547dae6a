-- Two price rows of one model alias must not both apply to the same instant.
select a.model_alias, a.effective_from, b.effective_from as overlapping_from
from {{ ref('model_prices') }} as a
inner join {{ ref('model_prices') }} as b
    on a.model_alias = b.model_alias
    and a.effective_from < b.effective_from
    and (a.effective_to is null or a.effective_to > b.effective_from)
