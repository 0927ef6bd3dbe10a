-- Question: Which 10 players are on the hottest streak: the highest ratio of their 10-second
-- average score to their 60-second average score (ending at the same moment)? (seed 004)
with windows as (
    select
        user_id,
        window_start,
        score,
        events
    from gold.user_score_10s
),

averages as (
    select
        user_id,
        window_start,
        cast(score as double) / events as short_avg,
        cast(sum(score) over last_minute as double)
        / sum(events) over last_minute as long_avg
    from windows
    window last_minute as (
        partition by user_id order by window_start
        range between interval '50' second preceding and current row
    )
),

hotness as (
    select
        user_id,
        max(short_avg / nullif(long_avg, 0)) as hotness
    from averages
    group by user_id
),

ranked as (
    select
        user_id,
        hotness,
        row_number() over (order by hotness desc, user_id asc) as streak_rank
    from hotness
    where hotness is not null
),

final as (
    select
        streak_rank,
        user_id,
        round(hotness, 3) as hotness_ratio
    from ranked
    where streak_rank <= 10
)

select * from final
order by streak_rank
