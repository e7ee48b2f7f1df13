-- wrk script for bench/run.py: the same request every Python client makes.
--   DELETE {base}/customers/{id}/tags  {"tags":[{"name":"Lead"}]}  Authorization: Bearer KEY
-- ids cycle over the sandbox's demo customers 542335..542344. Usage:
--   wrk -t1 -c32 -d5s -s bench/delete_tags.lua http://127.0.0.1:PORT/v1 -- KEY
-- The requests are built once in init() so that wrk does no per-request Lua formatting.

local requests = {}
local i = 0

function init(args)
  local key = args[1] or "sandbox-key"
  local prefix = wrk.path:gsub("/$", "")
  local body = '{"tags":[{"name":"Lead"}]}'
  local headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }
  for id = 542335, 542344 do
    requests[#requests + 1] =
      wrk.format("DELETE", prefix .. "/customers/" .. id .. "/tags", headers, body)
  end
  i = math.random(#requests) - 1
end

function request()
  i = i % #requests + 1
  return requests[i]
end
