-- Question: Who is each team's MVP (the largest share of the team's score), and which 10 MVPs
-- contribute the most to their team? (seed 004)
with totals as (
    select
        user_id,
        team_id,
        total_score
    from gold.user_score_totals
),

shares as (
    select
        user_id,
        team_id,
        total_score,
        sum(total_score) over (partition by team_id) as team_score
    from totals
),

team_best as (
    select
        user_id,
        team_id,
        total_score,
        team_score,
        cast(total_score as double) / team_score as score_share,
        row_number() over (
            partition by team_id
            order by cast(total_score as double) / team_score desc, user_id asc
        ) as team_rank
    from shares
    where team_score > 0
),

ranked as (
    select
        user_id,
        team_id,
        total_score,
        team_score,
        score_share,
        row_number() over (order by score_share desc, team_id asc) as mvp_rank
    from team_best
    where team_rank = 1
),

final as (
    select
        mvp_rank,
        team_id,
        user_id,
        total_score,
        team_score,
        round(100 * score_share, 2) as share_pct
    from ranked
    where mvp_rank <= 10
)

select * from final
order by mvp_rank
