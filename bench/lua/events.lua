-- POST /v1/events (BENCH_BATCH unset) or /v1/events/batch (BENCH_BATCH=n): item.submitted events with
-- fresh item ids and event ids, spread over the units in BENCH_UNIT_IDS (else U00000… BENCH_UNITS).
local units = tonumber(os.getenv("BENCH_UNITS") or "200")
local batch = tonumber(os.getenv("BENCH_BATCH") or "0")
local nonce = os.getenv("BENCH_NONCE") or "0badcafe"
local prefix = os.getenv("BENCH_PREFIX") or "W"
local occurred = os.getenv("BENCH_OCCURRED")  -- a fixed business time; else a minute ago
local counter = 0
local ids = {}
for id in string.gmatch(os.getenv("BENCH_UNIT_IDS") or "", "[^,]+") do table.insert(ids, id) end
if #ids == 0 then
  for i = 0, units - 1 do table.insert(ids, string.format("U%05d", i)) end
end

function init(args)
  math.randomseed(tid * 7919 + os.time())
  wrk.headers["Content-Type"] = "application/json"
end

local function event()
  counter = counter + 1
  local event_id = string.format("%s-%04x-4%03x-a%03x-%012x", nonce, tid % 65536, math.random(0, 4095),
                                 math.random(0, 4095), counter)
  local unit = ids[math.random(1, #ids)]
  return string.format(
    '{"event_id":"%s","type":"item.submitted","occurred_at":"%s","data":{"item_id":"%s%s-%d-%d",' ..
    '"unit_id":"%s","title":"关于第%d号工作情况的报告","kind":"single"}}',
    event_id, occurred or os.date("!%Y-%m-%dT%H:%M:%S+00:00", os.time() - 60), prefix, nonce, tid, counter, unit,
    counter)
end

function request()
  if batch > 0 then
    local events = {}
    for i = 1, batch do events[i] = event() end
    return wrk.format("POST", "/v1/events/batch", nil, '{"events":[' .. table.concat(events, ",") .. ']}')
  end
  return wrk.format("POST", "/v1/events", nil, event())
end
