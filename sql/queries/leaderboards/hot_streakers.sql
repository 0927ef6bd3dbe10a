-- Question: Which 10 players are on the hottest streak right now: over the last 5 minutes of
-- play, the highest ratio of their 10-second average score to their 60-second average score
-- (ending at the same moment)? (seed 004; "right now" is the seed's 5-minute state TTL)
with windows as (
    select
        user_id,
        window_start,
        score,
        events
    from gold.user_score_10s
),

last_minutes as (
    -- The streaks scored start within 5 minutes of the latest window; their 60-second
    -- averages reach 50 seconds further back.
    select
        max(window_start) - interval '5' minute as streaks_since,
        max(window_start) - interval '350' second as since
    from windows
),

recent as (
    select
        windows.*,
        windows.window_start >= last_minutes.streaks_since as is_scored
    from windows
    cross join last_minutes
    where windows.window_start >= last_minutes.since
),

averages as (
    select
        user_id,
        is_scored,
        cast(score as double) / events as short_avg,
        cast(sum(score) over last_minute as double)
        / sum(events) over last_minute as long_avg
    from recent
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
    where is_scored
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
