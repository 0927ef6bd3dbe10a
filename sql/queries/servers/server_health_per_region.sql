-- Question: How healthy are the servers of each region, minute by minute (CPU, memory,
-- latency, overload)? (seed 002)
with health as (
    select
        region,
        window_start,
        samples,
        servers,
        avg_cpu_load_pct,
        max_cpu_load_pct,
        avg_memory_usage_pct,
        avg_latency_ms,
        max_latency_ms,
        overloaded_samples
    from gold.server_health_1m
),

final as (
    select
        window_start,
        region,
        samples,
        servers,
        max_cpu_load_pct,
        max_latency_ms,
        overloaded_samples,
        round(avg_cpu_load_pct, 2) as avg_cpu_load_pct,
        round(avg_memory_usage_pct, 2) as avg_memory_usage_pct,
        round(avg_latency_ms, 2) as avg_latency_ms
    from health
)

select * from final
order by window_start, region
