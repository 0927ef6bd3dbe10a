-- Question: In each room type, which 3 players have the highest average points? (seed 000)
with activity as (
    select
        room_name,
        player_id,
        points
    from gold.player_activity_enriched
    where room_name is not null
),

per_player as (
    select
        room_name,
        player_id,
        avg(points) as avg_points,
        count(*) as activity_events
    from activity
    group by room_name, player_id
),

ranked as (
    select
        room_name as room_type,
        player_id,
        avg_points,
        activity_events,
        row_number() over (
            partition by room_name order by avg_points desc, player_id asc
        ) as player_rank
    from per_player
),

final as (
    select
        room_type,
        player_rank,
        player_id,
        activity_events,
        round(avg_points, 2) as avg_points
    from ranked
    where player_rank <= 3
)

select * from final
order by room_type, player_rank
