-- wrk script: realistic storefront beacons (page view + product view), unique event ids per request.
-- Usage: wrk -t2 -c64 -d10s -s Benchmarks/beacon.lua http://127.0.0.1:PORT -- RUN_ID WRITE_KEY
local threads = {}
local counter = 0
local run = "run"
local key = "pk_bench_1"

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  run = args[1] or run
  key = args[2] or key
end

local template = [[{"write_key":"%s","visitor_id":"v_%s_%d_%d","session_id":"s_%s_%d","sent_at":"%s",]] ..
  [["context":{"page":{"type":"product","url":"https://bench-shop.myshopify.com/products/linen-shirt?variant=44012345678901",]] ..
  [["referrer":"https://bench-shop.myshopify.com/collections/summer","title":"Linen Shirt – Bench Shop"},]] ..
  [["locale":"en-GB","currency":"EUR","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"},]] ..
  [["events":[{"id":"%s-%d-%d-a","name":"page_viewed","time":"%s","properties":{"url":"https://bench-shop.myshopify.com/products/linen-shirt"}},]] ..
  [[{"id":"%s-%d-%d-b","name":"product_viewed","time":"%s","properties":{"product_id":"8012345678901","variant_id":"44012345678901",]] ..
  [["title":"Linen Shirt","handle":"linen-shirt","vendor":"Bench Co","type":"Shirts","price":4990,"currency":"EUR","sku":"LS-42-BLU",]] ..
  [["image_url":"https://cdn.shopify.com/s/files/1/0000/0001/products/linen-shirt.jpg","url":"https://bench-shop.myshopify.com/products/linen-shirt"}}]}]]

function request()
  counter = counter + 1
  local now = os.date("!%Y-%m-%dT%H:%M:%S.000Z")
  local body = string.format(template, key, run, tid, counter % 2000, run, counter % 2000, now,
    run, tid, counter, now, run, tid, counter, now)
  return wrk.format("POST", "/v1/batch", {["Content-Type"] = "text/plain;charset=UTF-8"}, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.status, errors,
    latency:percentile(50), latency:percentile(99)))
end
