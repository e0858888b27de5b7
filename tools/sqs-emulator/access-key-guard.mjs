// Opt-in access-key check in front of fauxqs, which accepts any credentials and never validates them.
// With FAUXQS_REQUIRED_ACCESS_KEY_ID set, start.mjs runs fauxqs on a private port and this proxy on the
// public one: an SQS call whose SigV4 "Credential=<AKID>/..." names another key gets the error AWS gives
// for an unknown key (InvalidClientTokenId, 403). Only the key id is compared: enough to prove which key
// a client used, so a credential-rotation test can fail before and pass after. Not a signature check.
//   POST /_guard/access-key  (body: the new key id)  rotates the required key at run time.
import http from "node:http";

const ADMIN_PATH = "/_guard/access-key";
const INVALID_TOKEN = JSON.stringify({
  __type: "com.amazonaws.sqs#InvalidClientTokenId",
  message: "The security token included in the request is invalid.",
});

export async function startAccessKeyGuard({ targetPort, port, requiredAccessKeyId }) {
  let required = requiredAccessKeyId;
  const server = http.createServer((req, res) => {
    if (req.method === "POST" && req.url === ADMIN_PATH) {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        required = body.trim();
        res.writeHead(204).end();
      });
      return;
    }
    // Health and inspection paths stay open; every API call (POST /) must name the required key.
    if (req.method === "POST" && accessKeyId(req.headers.authorization) !== required) {
      req.resume();
      res.writeHead(403, {
        "content-type": "application/x-amz-json-1.0",
        "x-amzn-query-error": "InvalidClientTokenId;Sender",
        "x-amzn-requestid": crypto.randomUUID(),
      }).end(INVALID_TOKEN);
      return;
    }
    // The Host header is passed on unchanged, so the queue URLs fauxqs builds name this proxy's port.
    const upstream = http.request(
      { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
    upstream.on("error", () => res.headersSent ? res.destroy() : res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve, reject) => server.once("error", reject).listen(port, "0.0.0.0", resolve));
  return { port: server.address().port, close: () => new Promise((resolve) => server.close(resolve)) };
}

// "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/sqs/aws4_request, SignedHeaders=..., Signature=..."
function accessKeyId(authorization) {
  const match = /Credential=([^/,\s]+)\//.exec(authorization ?? "");
  return match ? match[1] : undefined;
}
