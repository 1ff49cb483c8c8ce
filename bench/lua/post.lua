-- S5: POST a post as the BENCH_TOKEN user, to BENCH_POST_PATH (default /api/v1/posts).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "POST"
wrk.path = os.getenv("BENCH_POST_PATH") or "/api/v1/posts"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"title":"A benchmark post","content":"Written by wrk to measure POST /api/v1/posts."}'
