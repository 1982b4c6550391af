-- GET the URL given to wrk (bench.py passes .../healthz); only adds the BENCH_JSON line.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

function done(summary, latency, requests)
  bench_done(summary, latency)
end
