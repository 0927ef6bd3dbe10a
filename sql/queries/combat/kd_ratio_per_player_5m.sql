-- Question: In each 5-minute tumbling window of the last hour of play, which 10 players had
-- the most kills, and what were their deaths and K/D ratio? (seed 001; K/D is null without
-- deaths, as NULLIF in the seed; every player's every window is gold.player_kd_5m)
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

last_hour as (
    select max(window_start) - interval '55' minute as since
    from windows
),

recent as (
    select windows.*
    from windows
    cross join last_hour
    where windows.window_start >= last_hour.since
),

ranked as (
    select
        *,
        row_number() over (
            partition by window_start
            order by kills desc, kd_ratio desc nulls last, player_id asc
        ) as kills_rank
    from recent
),

final as (
    select
        window_start,
        window_end,
        kills_rank,
        player_id,
        kills,
        deaths,
        round(kd_ratio, 2) as kd_ratio
    from ranked
    where kills_rank <= 10
)

select * from final
order by window_start, kills_rank
