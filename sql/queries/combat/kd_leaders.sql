-- Question: Which 10 players have the best K/D ratio over all their 5-minute windows, among
-- players who died at least once? (seed 001; ties go to more kills)
with windows as (
    select
        player_id,
        kills,
        deaths
    from gold.player_kd_5m
),

per_player as (
    select
        player_id,
        sum(kills) as kills,
        sum(deaths) as deaths
    from windows
    group by player_id
    having sum(deaths) > 0
),

ranked as (
    select
        player_id,
        kills,
        deaths,
        cast(kills as double) / deaths as kd_ratio,
        row_number() over (
            order by cast(kills as double) / deaths desc, kills desc, player_id asc
        ) as kd_rank
    from per_player
),

final as (
    select
        kd_rank,
        player_id,
        kills,
        deaths,
        round(kd_ratio, 2) as kd_ratio
    from ranked
    where kd_rank <= 10
)

select * from final
order by kd_rank
