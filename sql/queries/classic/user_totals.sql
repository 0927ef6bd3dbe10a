-- Question: What is each user's total score and number of scoring events? (classic)
with totals as (
    select
        user_id,
        team_id,
        total_score,
        events
    from gold.user_score_totals
),

final as (
    select * from totals
)

select * from final
order by total_score desc, user_id asc
