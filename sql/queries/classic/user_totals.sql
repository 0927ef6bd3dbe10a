-- Question: What are the total score and number of scoring events of the 100 users who
-- scored most? (classic; every user's totals are the gold.user_score_totals view)
with totals as (
    select
        user_id,
        team_id,
        total_score,
        events
    from gold.user_score_totals
),

ranked as (
    select
        *,
        row_number() over (order by total_score desc, user_id asc) as score_rank
    from totals
),

final as (
    select
        score_rank,
        user_id,
        team_id,
        total_score,
        events
    from ranked
    where score_rank <= 100
)

select * from final
order by score_rank
