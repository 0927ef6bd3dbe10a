-- Question: Which users score suspiciously high: more than 2.5 times the mean user score in
-- the same event-time hour? (classic)
with windows as (
    select
        user_id,
        window_start,
        score
    from gold.user_score_10s
),

per_user_hour as (
    select
        user_id,
        date_trunc('hour', window_start) as hour_start,
        sum(score) as score
    from windows
    group by date_trunc('hour', window_start), user_id
),

with_mean as (
    select
        hour_start,
        user_id,
        score,
        avg(score) over (partition by hour_start) as mean_score
    from per_user_hour
),

final as (
    select
        hour_start,
        user_id,
        score,
        round(mean_score, 2) as mean_score,
        round(score / mean_score, 2) as times_mean
    from with_mean
    where score > 2.5 * mean_score
)

select * from final
order by hour_start asc, score desc, user_id asc
