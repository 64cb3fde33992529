-- wrk script: Shopify webhook deliveries, one fixture body, a unique delivery id per request.
local body = io.open(os.getenv("BODY_FILE")):read("*a")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Shopify-Topic"] = "orders/create"
wrk.headers["X-Shopify-Shop-Domain"] = "bench-shop.myshopify.com"
wrk.headers["X-Shopify-API-Version"] = "2025-01"
wrk.headers["X-Shopify-Hmac-Sha256"] = os.getenv("HMAC")
request = function()
  n = n + 1
  wrk.headers["X-Shopify-Webhook-Id"] = "bench-" .. os.getenv("RUN") .. "-" .. tid .. "-" .. n
  return wrk.format(nil, "/webhooks/shopify", nil, body)
end
