-- Question: What are the maximum and minimum points scored by any player? (seed 000)
with activity as (
    select points from gold.player_activity_enriched
),

final as (
    select
        max(points) as max_points,
        min(points) as min_points
    from activity
)

select * from final
