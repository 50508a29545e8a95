-- POST a tiny JSON to the ceiling app (its POST twin of the GET).
function init(args)
  wrk.method = "POST"
  wrk.body = '{"a":1}'
  wrk.headers["Content-Type"] = "application/json"
end
