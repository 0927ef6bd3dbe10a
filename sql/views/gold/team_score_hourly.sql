-- View: each team's score per event-time hour. Late scores count while they are within the
-- streaming stage's watermark (its allowed lateness, 1 hour); later ones are dropped.
with windows as (
    select
        team_id,
        user_id,
        score,
        events,
        window_start
    from gold.user_score_10s
),

final as (
    select
        team_id,
        date_trunc('hour', window_start) as hour_start,
        sum(score) as score,
        sum(events) as events,
        count(distinct user_id) as players
    from windows
    group by team_id, date_trunc('hour', window_start)
)

select * from final
