-- Question: How many purchases and refunds, and how much money, per item type, currency and
-- platform? (seed 002; amounts exact, in their currency)
with facts as (
    select
        item_type,
        currency,
        platform,
        transaction_type,
        amount,
        signed_amount
    from gold.purchase_facts
),

final as (
    select
        item_type,
        currency,
        platform,
        count_if(transaction_type = 'purchase') as purchases,
        count_if(transaction_type = 'refund') as refunds,
        coalesce(sum(amount) filter (where transaction_type = 'purchase'), 0) as purchase_amount,
        coalesce(sum(amount) filter (where transaction_type = 'refund'), 0) as refund_amount,
        sum(signed_amount) as net_amount
    from facts
    group by item_type, currency, platform
)

select * from final
order by item_type, currency, platform
