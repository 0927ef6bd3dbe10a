-- Question: Which users scored suspiciously high in the last 24 hours of play: more than 2.5
-- times the mean user score of the same event-time hour? (classic; each hour since the one 24
-- hours before the latest window)
with windows as (
    select
        user_id,
        window_start,
        score
    from gold.user_score_10s
),

last_day as (
    select date_trunc('hour', max(window_start)) - interval '23' hour as since
    from windows
),

recent as (
    select windows.*
    from windows
    cross join last_day
    where windows.window_start >= last_day.since
),

per_user_hour as (
    select
        user_id,
        date_trunc('hour', window_start) as hour_start,
        sum(score) as score
    from recent
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
