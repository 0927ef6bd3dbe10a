-- Question: How is player wealth distributed (players per 1000-gold band of current
-- wealth)? (seed 003)
with profiles as (
    select wealth
    from gold.player_profile
    where wealth is not null
),

bands as (
    select cast(floor(wealth / 1000) * 1000 as bigint) as wealth_from
    from profiles
),

final as (
    select
        wealth_from,
        wealth_from + 1000 as wealth_to,
        count(*) as players
    from bands
    group by wealth_from
)

select * from final
order by wealth_from
