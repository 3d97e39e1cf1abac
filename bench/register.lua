-- register.lua — wrk script: POST /api/register with a new address every time.
--
--   wrk -s bench/register.lua -t2 -c32 -d15s http://127.0.0.1:PORT/api/register
--
-- Every request carries a different email, built from a random run tag (from
-- /dev/urandom, so two runs never collide), the wrk thread's number and a
-- per-thread counter:  b<tag>-<thread>-<counter>@bench.example.com
--
-- The `response` hook counts answers by status in each thread; `done` adds
-- them up and prints one machine-readable line for scripts/bench.sh:
--   xyz-bench: responses=N 2xx=N non2xx=N status_202=N status_503=N ...

local threads = {}

-- main thread, once per wrk thread: hand each its number
function setup(thread)
    thread:set("thread_id", #threads + 1)
    table.insert(threads, thread)
end

-- in each wrk thread
function init(args)
    local f = assert(io.open("/dev/urandom", "rb"))
    local bytes = f:read(6)
    f:close()
    tag = bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end)

    counter = 0
    statuses = {}          -- status code -> count
    path = wrk.path
    if path == nil or path == "" or path == "/" then
        path = "/api/register"
    end
    headers = { ["Content-Type"] = "application/json" }
end

function request()
    counter = counter + 1
    local body = string.format(
        '{"email":"b%s-%d-%d@bench.example.com",'
        .. '"password":"bench password %d long enough",'
        .. '"name":"Bench User %d","locale":"en","marketing_consent":false}',
        tag, thread_id, counter, counter, counter)
    return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
    statuses[status] = (statuses[status] or 0) + 1
end

-- main thread, after the run
function done(summary, latency, requests)
    local total, ok, by_status = 0, 0, {}
    for _, thread in ipairs(threads) do
        local s = thread:get("statuses") or {}
        for code, n in pairs(s) do
            by_status[code] = (by_status[code] or 0) + n
            total = total + n
            if code >= 200 and code < 300 then
                ok = ok + n
            end
        end
    end

    local codes = {}
    for code in pairs(by_status) do
        table.insert(codes, code)
    end
    table.sort(codes)

    local line = string.format("xyz-bench: responses=%d 2xx=%d non2xx=%d",
                               total, ok, total - ok)
    for _, code in ipairs(codes) do
        line = line .. string.format(" status_%d=%d", code, by_status[code])
    end
    line = line .. string.format(" p50_ms=%.2f p99_ms=%.2f max_ms=%.2f",
                                 latency:percentile(50) / 1000,
                                 latency:percentile(99) / 1000,
                                 latency.max / 1000)
    io.write(line .. "\n")
end
