-- Question: How does player wealth relate to time spent playing (do players accumulate or
-- spend)? (seed 003; time played = first to last Game API call)
with profiles as (
    select
        wealth,
        time_played_s
    from gold.player_profile
    where wealth is not null
),

banded as (
    select
        wealth,
        case
            when time_played_s < 60 then 1
            when time_played_s < 600 then 2
            when time_played_s < 3600 then 3
            when time_played_s < 21600 then 4
            when time_played_s < 86400 then 5
            else 6
        end as band
    from profiles
),

final as (
    select
        band,
        element_at(
            array['< 1 min', '1-10 min', '10-60 min', '1-6 h', '6-24 h', '1 day +'], band
        ) as time_played,
        count(*) as players,
        round(avg(wealth), 2) as avg_wealth,
        min(wealth) as min_wealth,
        max(wealth) as max_wealth
    from banded
    group by band
)

select * from final
order by band
