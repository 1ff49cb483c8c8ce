-- GET the URL given to wrk asking for a compressed answer (Accept-Encoding: ENCODING,
-- default gzip), as a browser does.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.headers["Accept-Encoding"] = os.getenv("BENCH_ENCODING") or "gzip"
