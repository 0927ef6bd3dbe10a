-- Question: What share of all activity does each room type get? (seed 000)
with activity as (
    select room_name
    from gold.player_activity_enriched
    where room_name is not null
),

per_type as (
    select
        room_name as room_type,
        count(*) as activity_events
    from activity
    group by room_name
),

final as (
    select
        room_type,
        activity_events,
        round(100 * cast(activity_events as double) / sum(activity_events) over (), 2) as share_pct
    from per_type
)

select * from final
order by activity_events desc
