CREATE DATABASE IF NOT EXISTS market;
CREATE DATABASE IF NOT EXISTS customer;
CREATE DATABASE IF NOT EXISTS product;
CREATE DATABASE IF NOT EXISTS analytics;
CREATE TABLE IF NOT EXISTS market.prices (ds Date, symbol LowCardinality(String), price Float64, volume Int64, ts DateTime64(3, 'UTC'), bid_ask Array(Float64), _source_key String, _correlation_id String) ENGINE = MergeTree PARTITION BY ds ORDER BY (symbol, ts);
CREATE TABLE IF NOT EXISTS customer.accounts (ds Date, account_id Int64, email String, balance Decimal(12, 2), tier Nullable(String), opened Date32) ENGINE = MergeTree PARTITION BY ds ORDER BY account_id;
CREATE TABLE IF NOT EXISTS product.catalog (ds Date, sku String, name String, tags Array(String), dimensions Tuple(width Int32, height Int32)) ENGINE = MergeTree PARTITION BY ds ORDER BY sku;
CREATE TABLE IF NOT EXISTS analytics.events (ds Date, hour UInt8, event_id String, user_id Int64, kind LowCardinality(String), properties Map(String, String), duration_ms Nullable(Int32)) ENGINE = MergeTree PARTITION BY (ds, hour) ORDER BY (kind, event_id);
