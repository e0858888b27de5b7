// Opt-in state snapshot for the emulator, so a stop and start keeps the queues as real SQS would.
// fauxqs keeps everything in memory ("No persistence"); when FAUXQS_STATE_FILE is set, a graceful
// stop writes every queue (name, settable attributes incl. RedrivePolicy) and every message
// (ready, delayed and in flight: body + message attributes) to that file, and the next start
// re-creates the queues and re-sends the messages. In-flight messages come back visible, as after a
// visibility timeout; receive counts and message ids start afresh. A hard kill writes nothing.
import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";

const stateFile = process.env.FAUXQS_STATE_FILE;

// The attributes CreateQueue accepts; the rest (counts, ARN, timestamps) are fauxqs's own.
const settable = new Set([
  "VisibilityTimeout", "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
  "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "Policy", "KmsMasterKeyId",
  "KmsDataKeyReusePeriodSeconds", "FifoQueue", "ContentBasedDeduplication",
]);

/** Stops the server; with FAUXQS_STATE_FILE set, writes its queues and messages there once it is quiet. */
export async function stopSavingState(server) {
  if (!stateFile) {
    await server.stop();
    return;
  }

  try {
    await saveState(server);
  } catch (err) {
    // The caller exits 0 either way; stderr is what the parent quotes when the snapshot is missing.
    process.stderr.write(`could not write the state snapshot ${stateFile}: ${err?.stack ?? err}\n`);
  }
}

async function saveState(server) {

  // Names come from the HTTP listing, which is gone after stop; the contents are read after stop,
  // when no request can change them any more (an answer lost in the stop only causes a resend).
  const listing = await (await fetch(new URL("/_fauxqs/queues", server.address))).json();
  await server.stop();
  const queues = listing.map((q) => server.inspectQueue(q.name)).filter(Boolean).map((q) => ({
    name: q.name,
    attributes: Object.fromEntries(Object.entries(q.attributes).filter(([k]) => settable.has(k))),
    messages: [...q.messages.ready, ...q.messages.delayed, ...q.messages.inflight.map((e) => e.message)]
      .map((m) => ({ body: m.body, attributes: m.messageAttributes ?? {}, groupId: m.messageGroupId, dedupId: m.messageDeduplicationId })),
  }));
  // Write-then-rename: a stop cut short leaves the previous snapshot, never half a file.
  await writeFile(stateFile + ".tmp", JSON.stringify({ version: 1, queues }));
  await rename(stateFile + ".tmp", stateFile);
}

/** With FAUXQS_STATE_FILE set and present, re-creates its queues and re-sends its messages. */
export async function restoreState(server) {
  if (!stateFile) return;
  let state;
  try {
    // Synchronously up to the last createQueue: no client request is served before every queue
    // exists again, so none is told that its queue does not exist.
    state = JSON.parse(readFileSync(stateFile, "utf8"));
  } catch (err) {
    if (err.code === "ENOENT") return; // first start
    throw err;
  }

  // Dead-letter targets first, so a RedrivePolicy never names a queue that does not exist yet.
  const ordered = [...state.queues].sort((a, b) => Number("RedrivePolicy" in a.attributes) - Number("RedrivePolicy" in b.attributes));
  const urls = ordered.map((q) => server.createQueue(q.name, { attributes: q.attributes }).queueUrl);
  for (const [index, q] of ordered.entries()) {
    const queueUrl = urls[index];
    // Through the SQS API like any client, so fauxqs computes MD5s, sizes and ids itself. The
    // credential names the same test key the clients use, for emulators that check it.
    // Batches of at most 10 entries and 1 MiB in all, SQS's limits for SendMessageBatch.
    let entries = [];
    let bytes = 0;
    for (const m of q.messages) {
      const size = Buffer.byteLength(m.body) + Buffer.byteLength(JSON.stringify(m.attributes));
      if (entries.length === 10 || (entries.length > 0 && bytes + size > 1024 * 1024)) {
        await send(server, "SendMessageBatch", { QueueUrl: queueUrl, Entries: entries });
        entries = [];
        bytes = 0;
      }
      entries.push({
        Id: String(entries.length),
        MessageBody: m.body,
        ...(Object.keys(m.attributes).length > 0 ? { MessageAttributes: m.attributes } : {}),
        ...(m.groupId ? { MessageGroupId: m.groupId } : {}),
        ...(m.dedupId ? { MessageDeduplicationId: m.dedupId } : {}),
      });
      bytes += size;
    }
    if (entries.length > 0) await send(server, "SendMessageBatch", { QueueUrl: queueUrl, Entries: entries });
  }
}

async function send(server, action, payload) {
  const key = process.env.AWS_ACCESS_KEY_ID ?? "test";
  const response = await fetch(server.address, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": `AmazonSQS.${action}`,
      authorization: `AWS4-HMAC-SHA256 Credential=${key}/20260101/us-west-2/sqs/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(payload),
  });
  const result = await response.json();
  if (!response.ok || result.Failed?.length) {
    throw new Error(`restoring ${stateFile}: ${action} failed: ${JSON.stringify(result).slice(0, 500)}`);
  }
}
