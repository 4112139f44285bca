-- Replays one pre-signed AWS request for the whole wrk run.
--
-- bench/run.py signs each request once with botocore's SigV4Auth and writes it
-- as a Lua table (method, path, headers, body) to the file named by
-- KMSD_BENCH_REQUEST.  Setting wrk.method/path/headers/body here, and defining
-- no request() function, lets wrk build the request bytes once and send them
-- unchanged, so the generator spends its one core on sending, not on Lua.
-- Non-2xx answers are counted by wrk itself ("Non-2xx or 3xx responses"),
-- which run.py turns into a failure: a benchmark of errors measures nothing.
--
-- KMSD_BENCH_HOSTS ("127.0.0.1:4001 127.0.0.1:4002 ...", set by bench/scaling.py)
-- spreads wrk's threads over several servers: thread i connects to host i modulo
-- their number.  The signed Host header stays the first server's, as behind a
-- load balancer; kmsd verifies the signature against the Host header it is sent.
-- setup() runs once per thread before the run, so the request path stays static.

local request_file = os.getenv("KMSD_BENCH_REQUEST")
if request_file == nil then
   error("KMSD_BENCH_REQUEST must name the Lua request file written by bench/run.py")
end

local signed = dofile(request_file)
wrk.method = signed.method
wrk.path = signed.path
wrk.headers = signed.headers
wrk.body = signed.body

local hosts = os.getenv("KMSD_BENCH_HOSTS")
if hosts ~= nil then
   local threads_set_up = 0
   function setup(thread)
      local targets = {}
      for host, port in string.gmatch(hosts, "([^%s:]+):(%d+)") do
         table.insert(targets, {host = host, port = port})
      end
      local target = targets[(threads_set_up % #targets) + 1]
      thread.addr = wrk.lookup(target.host, target.port)[1]
      threads_set_up = threads_set_up + 1
   end
end
