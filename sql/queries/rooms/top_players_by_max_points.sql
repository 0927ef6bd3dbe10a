-- Question: Who are the 10 top-ranked players by the maximum points they scored? (seed 000)
-- Names are shown as the PII policy lets analysts see them (a hash).
with activity as (
    select
        player_id,
        player_name,
        points
    from gold.player_activity_enriched
),

per_player as (
    select
        player_id,
        max(player_name) as player_name,
        max(points) as max_points
    from activity
    group by player_id
),

ranked as (
    select
        player_id,
        player_name,
        max_points,
        row_number() over (order by max_points desc, player_id asc) as player_rank
    from per_player
),

final as (
    select * from ranked
    where player_rank <= 10
)

select * from final
order by player_rank
