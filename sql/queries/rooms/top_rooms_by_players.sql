-- Question: Which 5 game rooms attract the most distinct players? (seed 000)
with rooms as (
    select
        room_id,
        room_name,
        unique_players,
        activity_events
    from gold.room_stats
),

ranked as (
    select
        room_id,
        room_name,
        unique_players,
        activity_events,
        row_number() over (order by unique_players desc, room_id asc) as room_rank
    from rooms
),

final as (
    select * from ranked
    where room_rank <= 5
)

select * from final
order by room_rank
