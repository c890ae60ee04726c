-- Prints one machine-readable line when wrk is done:
-- RESULT <requests> <bytes> <duration_s> <p50_ms> <p99_ms> <errors>
-- (non-2xx answers count as errors).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f %d\n",
    summary.requests, summary.bytes, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status + e.connect + e.read + e.write + e.timeout))
end
