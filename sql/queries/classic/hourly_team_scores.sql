-- Question: What is each team's score per event-time hour, late scores counted within the
-- allowed lateness? (classic)
with hourly as (
    select
        team_id,
        hour_start,
        score,
        events,
        players
    from gold.team_score_hourly
),

final as (
    select * from hourly
)

select * from final
order by hour_start asc, score desc, team_id asc
