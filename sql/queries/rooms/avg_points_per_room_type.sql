-- Question: What are the average points scored in each room type ("Mode -- Tier")? (seed 000)
with activity as (
    select
        room_name,
        points
    from gold.player_activity_enriched
    where room_name is not null
),

final as (
    select
        room_name as room_type,
        count(*) as activity_events,
        round(avg(points), 2) as avg_points
    from activity
    group by room_name
)

select * from final
order by avg_points desc
