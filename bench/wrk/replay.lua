-- Replays one pre-signed AWS request for the whole wrk run.
--
-- bench/run.py signs each request once with botocore's SigV4Auth and writes it
-- as a Lua table (method, path, headers, body) to the file named by
-- KMSD_BENCH_REQUEST.  Setting wrk.method/path/headers/body here, and defining
-- no request() function, lets wrk build the request bytes once and send them
-- unchanged, so the generator spends its one core on sending, not on Lua.
-- Non-2xx answers are counted by wrk itself ("Non-2xx or 3xx responses"),
-- which run.py turns into a failure: a benchmark of errors measures nothing.

local request_file = os.getenv("KMSD_BENCH_REQUEST")
if request_file == nil then
   error("KMSD_BENCH_REQUEST must name the Lua request file written by bench/run.py")
end

local signed = dofile(request_file)
wrk.method = signed.method
wrk.path = signed.path
wrk.headers = signed.headers
wrk.body = signed.body
