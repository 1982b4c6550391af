-- POSTs a real Telegram update (a private text message, ~600 bytes: update.json) to the
-- webhook with Content-Type: application/json and the secret header.
--
--   wrk ... -s webhook.lua http://127.0.0.1:PORT/telegram/webhook -- SECRET BASE
--
-- Every request carries a UNIQUE update_id: the bot deduplicates by update_id
-- (INSERT OR IGNORE), so a repeated id would skip the durable write. Thread n of a run
-- numbers its requests BASE + n * STRIDE + 0, 1, 2, ...; bench.py gives every wrk run
-- against a process a different BASE, so ids never repeat within one process either.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local STRIDE = 1000000000 -- ids per thread and run; far more than a run can send

-- update.json has "update_id":0 and "message_id":0; split it around both values.
local file = assert(io.open(dir .. "update.json", "r"))
local template = file:read("*a"):gsub("%s+$", "")
file:close()
local HEAD, rest = template:match('^(.-"update_id":)0(,.*)$')
local MIDDLE, TAIL = rest:match('^(.-"message_id":)0(,.*)$')
assert(HEAD and MIDDLE and TAIL, "update.json: update_id or message_id not found")

-- setup() runs in the main Lua state, once per thread, before the thread's init().
local threads = {}
function setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

local path, headers
function init(args)
  local secret, base = args[1], tonumber(args[2])
  assert(secret and base, "usage: -- SECRET BASE")
  -- globals, so done() can read how many ids each thread used
  first_id = base + thread_index * STRIDE
  next_id = first_id
  path = wrk.path
  headers = {
    ["Content-Type"] = "application/json",
    ["X-Telegram-Bot-Api-Secret-Token"] = secret,
  }
end

function request()
  local id = next_id
  next_id = id + 1
  local body = HEAD .. string.format("%d", id) .. MIDDLE ..
    string.format("%d", 1000 + (id - first_id) % 1000000) .. TAIL
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local issued = 0
  for _, thread in ipairs(threads) do
    issued = issued + (thread:get("next_id") - thread:get("first_id"))
  end
  bench_done(summary, latency,
    string.format(',"update_ids_issued":%d,"threads":%d', issued, #threads))
end
