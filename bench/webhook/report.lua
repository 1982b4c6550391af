-- Shared by webhook.lua and healthz.lua: done() prints one machine-readable line,
--   BENCH_JSON {...}
-- after wrk's own report, so bench.py never has to parse wrk's rounded text alone.
-- Latencies are in microseconds, duration too (as wrk reports them).

local function percentiles(latency)
  local out = {}
  for _, p in ipairs({50, 75, 90, 99, 99.9}) do
    out[#out + 1] = string.format('"%s":%d', tostring(p), latency:percentile(p))
  end
  return table.concat(out, ",")
end

function bench_done(summary, latency, extra)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"bytes":%d,"duration_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,"percentiles":{%s}}%s}\n',
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev, percentiles(latency),
    extra or ""))
end
