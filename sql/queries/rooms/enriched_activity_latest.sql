-- Question: What does the enriched player activity (activity joined with rooms and players)
-- look like for the 20 most recent events? (seed 000)
with enriched as (
    select
        event_id,
        player_id,
        player_name,
        ip,
        room_id,
        room_name,
        room_created_at,
        points,
        coord_x,
        coord_y,
        activity_at
    from gold.player_activity_enriched
),

ranked as (
    select
        *,
        row_number() over (order by activity_at desc, event_id desc) as recency_rank
    from enriched
),

final as (
    select * from ranked
    where recency_rank <= 20
)

select * from final
order by recency_rank
