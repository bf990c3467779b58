-- session.lua: wrk script for the end-to-end load. Each wrk thread makes
-- sessions with its first requests (no cookie), keeps the cookie from each
-- Set-Cookie, and then sends every request with one of them, in turn.
--
-- wrk's Lua API has no per-connection hook, so instead of one cookie per
-- connection each thread keeps a ring of RING cookies, more than its
-- connections: a session's next request goes out only after RING-1 others,
-- so no two requests in flight share a session.
--
-- Arguments (after --): MODE [RING]
--   count  POST /api/count: a returning visitor increments a counter (W3)
--   get    GET /api/get?key=user after POST /api/put?key=user&value=ann:
--          a returning visitor reads one key (W2)

local mode = "count"
local size = 64
local ring = {}   -- prebuilt requests, one per session
local i = 0

function init(args)
  mode = args[1] or "count"
  size = tonumber(args[2] or "64")
  if mode ~= "count" and mode ~= "get" then
    error("session.lua: MODE must be count or get, not " .. mode)
  end
end

local function returning(cookie)
  if mode == "get" then
    return wrk.format("GET", "/api/get?key=user", { Cookie = cookie })
  end
  return wrk.format("POST", "/api/count", { Cookie = cookie })
end

function request()
  if #ring < size then
    if mode == "get" then
      return wrk.format("POST", "/api/put?key=user&value=ann")
    end
    return wrk.format("POST", "/api/count")
  end
  i = i % size + 1
  return ring[i]
end

function response(status, headers, body)
  if #ring < size then
    local c = headers["Set-Cookie"]
    if c then
      ring[#ring + 1] = returning(c:match("^([^;]+)"))
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("E2E rps=%.1f p50_us=%.0f p99_us=%.0f requests=%d non2xx=%d sockerr=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
