-- Question: How many unique players play in each Arcade room type, day by day? (seed 000)
with arcade_activity as (
    select
        activity_date,
        room_name,
        player_id
    from gold.player_activity_enriched
    where room_mode = 'Arcade'
),

final as (
    select
        activity_date,
        room_name as room_type,
        count(distinct player_id) as unique_players
    from arcade_activity
    group by activity_date, room_name
)

select * from final
order by activity_date, room_type
