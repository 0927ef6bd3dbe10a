-- Question: How many kills and deaths does each player have, and what is their K/D ratio,
-- per 5-minute tumbling window? (seed 001; K/D is null without deaths, as NULLIF in the seed)
with windows as (
    select
        player_id,
        window_start,
        window_end,
        kills,
        deaths,
        kd_ratio
    from gold.player_kd_5m
),

final as (
    select
        window_start,
        window_end,
        player_id,
        kills,
        deaths,
        round(kd_ratio, 2) as kd_ratio
    from windows
)

select * from final
order by window_start, player_id
