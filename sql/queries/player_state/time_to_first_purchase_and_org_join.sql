-- Question: What is the mean time from a player's first login to their first purchase, and to
-- their first org join? (seed 003; players whose first purchase/join follows the login)
with profiles as (
    select
        first_login_at,
        first_purchase_at,
        first_org_join_at
    from gold.player_profile
    where first_login_at is not null
),

durations as (
    select
        case
            when first_purchase_at >= first_login_at
                then to_milliseconds(first_purchase_at - first_login_at) / 1e3
        end as to_purchase_s,
        case
            when first_org_join_at >= first_login_at
                then to_milliseconds(first_org_join_at - first_login_at) / 1e3
        end as to_org_join_s
    from profiles
),

final as (
    select
        count(*) as players_logged_in,
        count(to_purchase_s) as players_purchased,
        round(avg(to_purchase_s), 1) as mean_s_to_first_purchase,
        count(to_org_join_s) as players_joined_org,
        round(avg(to_org_join_s), 1) as mean_s_to_first_org_join
    from durations
)

select * from final
