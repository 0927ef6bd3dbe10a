-- Question: How many players are active each day (seen in any event family)? (seed 002)
with daily as (
    select
        activity_date,
        active_players,
        events
    from gold.daily_active_players
),

final as (
    select * from daily
)

select * from final
order by activity_date
