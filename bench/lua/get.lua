-- GET the URL given to wrk; with BENCH_TOKEN set, as that user (S1 needs a token).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
