-- GET the URL given to wrk as a Conduit front-end does: `Authorization: Token <jwt>`
-- (C1, C2; the Conduit face takes /api/v1 access tokens too).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Token " .. token
end
