-- S6: nine GETs of BENCH_MIX_GET (S2) for every POST to BENCH_MIX_POST (S5), per connection.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local get_req, post_req
local n = 0
function init(args)
  get_req = wrk.format("GET", os.getenv("BENCH_MIX_GET"))
  post_req = wrk.format("POST", os.getenv("BENCH_MIX_POST") or "/api/v1/posts", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
  }, '{"title":"A benchmark post","content":"Written by wrk to measure POST /api/v1/posts."}')
end
function request()
  n = n + 1
  if n % 10 == 0 then
    return post_req
  end
  return get_req
end
