-- One account's shared rate limit: gcra.rs's `State::apply`, step for step, run atomically
-- inside Redis. Plain Lua and core commands only (no modules), so managed Redis runs it.
--
-- KEYS[1]  the account's hash (fields tat, seen, rate, at, epoch, low, rel; times in µs)
-- ARGV[1]  operation: "grant", "confirm", "throttled" or "peek"
-- ARGV[2]  the caller's configured rate (requests per minute)
-- ARGV[3]  safety margin          ARGV[4]  decrease factor
-- ARGV[5]  recovery (µs)          ARGV[6]  floor share
-- ARGV[7]  horizon (µs)           ARGV[8]  episode (µs)
-- ARGV[13] relay step (gcra.rs's RELAY_STEP)
-- ARGV[9]  how long an idle account's state is kept (ms)
-- ARGV[10] the epoch the slot or the throttled request was granted under ("confirm",
--          "throttled"), else ""
-- ARGV[11] the slot to confirm (µs, "confirm" only), else ""
-- ARGV[12] "now" in µs, or "" for the server's clock (tests pin it to compare with gcra.rs)
-- Returns {wait µs, epoch, rate as text, 1 if this call decreased the rate else 0, slot µs}
-- (the slot's time and epoch for a grant or a confirm; the operation's time and the state's
-- epoch otherwise).

-- Redis before 5 refuses writes after TIME in a script unless effects are replicated;
-- later versions always replicate effects and keep the call as a no-op.
if redis.replicate_commands then
  pcall(redis.replicate_commands)
end

local now
if ARGV[12] ~= '' then
  now = tonumber(ARGV[12])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end

local key = KEYS[1]
local op = ARGV[1]
local ceiling = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local decrease = tonumber(ARGV[4])
local recovery = tonumber(ARGV[5])
local floor_share = tonumber(ARGV[6])
local horizon = tonumber(ARGV[7])
local episode = tonumber(ARGV[8])
local retention_ms = tonumber(ARGV[9])
local relay_step = tonumber(ARGV[13])

local stored = redis.call('HMGET', key, 'tat', 'seen', 'rate', 'at', 'epoch', 'low', 'rel')
local tat = tonumber(stored[1]) or 0
local seen = tonumber(stored[2]) or now
local throttled_rate = tonumber(stored[3]) or 0
local throttled_at = tonumber(stored[4]) or 0
local epoch = tonumber(stored[5]) or 0
local low_rate = tonumber(stored[6]) or 0
local released_at = tonumber(stored[7]) or 0

if seen > now then
  local back = seen - now
  tat = tat - back
  throttled_at = throttled_at - back
  released_at = released_at - back
end

local function rate_at(t)
  if throttled_rate <= 0 then
    return ceiling
  end
  -- Where the climb back starts (a hash an older version wrote has none, or a stale one).
  local low = throttled_rate * decrease
  if low_rate > 0 and low_rate < throttled_rate then
    low = low_rate
  end
  local x = (t - throttled_at) / recovery - 1.0
  local rate = throttled_rate + (throttled_rate - low) * (x * x * x)
  rate = math.min(rate, ceiling)
  return math.max(rate, ceiling * floor_share)
end

local function rate_now()
  return rate_at(now)
end

local function interval(rate)
  return math.min(math.ceil(60000000.0 / rate * margin), 1e15)
end

local function save()
  redis.call('HSET', key,
    'tat', string.format('%d', tat),
    'seen', string.format('%d', now),
    'rate', string.format('%.17g', throttled_rate),
    'at', string.format('%d', throttled_at),
    'epoch', string.format('%d', epoch),
    'low', string.format('%.17g', low_rate),
    'rel', string.format('%d', released_at))
  local ahead_ms = math.max(0, math.ceil((tat - now) / 1000))
  redis.call('PEXPIRE', key, ahead_ms + retention_ms)
end

local function release(rate)
  epoch = epoch + 1
  released_at = now
  tat = math.min(tat, now + horizon + interval(rate))
end

local function grant()
  local rate = rate_now()
  local slot = math.max(tat, now)
  tat = slot + interval(rate)
  save()
  return {slot - now, epoch, string.format('%.17g', rate), 0, slot}
end

-- gcra.rs's `relay_if_behind`: the climb back re-lays a queue it has left behind.
if op == 'grant' or op == 'confirm' then
  local rate = rate_now()
  local before = rate_at(released_at)
  local queued = tat > now + horizon + interval(rate)
  local behind = rate >= before * relay_step or (rate >= ceiling and before < ceiling)
  if queued and behind then
    release(rate)
    save()
  end
end

if op == 'grant' then
  return grant()
elseif op == 'confirm' then
  local slot_epoch = tonumber(ARGV[10])
  local slot = tonumber(ARGV[11])
  local stands = slot < tat and (slot_epoch == epoch
    or (slot_epoch + 1 == epoch and slot <= released_at + horizon))
  if stands then
    return {math.max(slot - now, 0), slot_epoch, string.format('%.17g', rate_now()), 0, slot}
  end
  return grant()
elseif op == 'throttled' then
  local decreased = 0
  if tonumber(ARGV[10]) == epoch then
    local rate = rate_now()
    local same_episode = throttled_rate > 0 and now - throttled_at < episode
      and rate < throttled_rate
    if not same_episode then
      throttled_rate = rate
    end
    low_rate = rate * decrease
    throttled_at = now
    release(rate)
    decreased = 1
    save()
  end
  return {0, epoch, string.format('%.17g', rate_now()), decreased, now}
elseif op == 'peek' then
  return {0, epoch, string.format('%.17g', rate_now()), 0, now}
end
return redis.error_reply('unknown operation ' .. tostring(op))
