-- View: each team's score per event-time hour. Late scores count: a score later than the
-- streaming stage's hour of allowed lateness is merged into its rolled-up hour.
with hours as (
    select
        team_id,
        window_start,
        score,
        events,
        players
    from gold.team_score_1h
),

final as (
    select
        team_id,
        window_start as hour_start,
        score,
        events,
        players
    from hours
)

select * from final
