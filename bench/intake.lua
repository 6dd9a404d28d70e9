-- wrk script for bench/intake.py: POST a unique Falco event per request, count outcomes.
--
--   wrk -t2 -c64 -d10s -s bench/intake.lua http://127.0.0.1:PORT/v1/events/falco -- RUN_ID [RULE]
--
-- RULE is the Falco rule every event names (bench/intake.py --rule; no quotes or backslashes).
--
-- Every body carries the run id, the wrk thread id and a per-thread counter (in `time`,
-- `output` and `output_fields`), so no two requests of any run send the same body and
-- responder's body-hash deduplication never fires. The body has the shape and about the
-- size of a real Falco `http_output` event (about 1.1 KB).
-- Answers are counted by status (2xx, 202 and the rest), and over all threads in `done`.
-- `done` prints one line, "BENCH_RESULT {json}", that bench/intake.py parses.

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local BODY = '{"hostname":"bench-node-%d","priority":"Notice","rule":"%s",'
   .. '"source":"syscall","time":"2026-11-24T12:%02d:%02d.%09dZ",'
   .. '"output":"2026-11-24T12:%02d:%02d.%09d+0000: Notice %s (evt_type=execve user=root user_uid=0 user_loginuid=-1'
   .. ' process=sh proc_exepath=/bin/sh parent=containerd-shim command=sh -i terminal=34816'
   .. ' exe_flags=EXE_WRITABLE container_id=%012x container_name=bench-app-%d run=%s seq=%d)",'
   .. '"tags":["T1059","container","maturity_stable","mitre_execution","shell"],'
   .. '"output_fields":{"container.id":"%012x","container.name":"bench-app-%d",'
   .. '"evt.time":%d%09d,"evt.type":"execve","proc.cmdline":"sh -i","proc.exepath":"/bin/sh",'
   .. '"proc.name":"sh","proc.pname":"containerd-shim","proc.tty":34816,"user.loginuid":-1,'
   .. '"user.name":"root","user.uid":0,"bench.run":"%s","bench.thread":%d,"bench.seq":%d}}'

function init(args)
   run = args[1] or "run"
   rule = args[2] or "Contact K8S API Server From Container"
   counter = 0
   ok = 0
   accepted = 0
   non2xx = 0
   statuses = {}
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   local minute = tid % 60
   local second = math.floor(counter / 1000000000) % 60
   local nanos = counter % 1000000000
   local container = tid * 1000 + counter % 1000
   local body = string.format(
      BODY,
      tid, rule,
      minute, second, nanos,
      minute, second, nanos, rule, container, tid, run, counter,
      container, tid, 1795521600 + minute * 60 + second, nanos, run, tid, counter
   )
   return wrk.format("POST", nil, nil, body)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
      if status == 202 then
         accepted = accepted + 1
      end
   else
      non2xx = non2xx + 1
   end
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local sent, ok_total, accepted_total, non2xx_total = 0, 0, 0, 0
   local by_status = {}
   for _, thread in ipairs(threads) do
      sent = sent + thread:get("counter")
      ok_total = ok_total + thread:get("ok")
      accepted_total = accepted_total + thread:get("accepted")
      non2xx_total = non2xx_total + thread:get("non2xx")
      for status, count in pairs(thread:get("statuses")) do
         by_status[status] = (by_status[status] or 0) + count
      end
   end
   local parts = {}
   for status, count in pairs(by_status) do
      table.insert(parts, string.format('"%d":%d', status, count))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"duration_us":%d,"completed":%d,"sent":%d,"ok_2xx":%d,"status_202":%d,'
         .. '"non_2xx":%d,"statuses":{%s},"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
      summary.duration, summary.requests, sent, ok_total, accepted_total, non2xx_total,
      table.concat(parts, ","),
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean
   ))
end
