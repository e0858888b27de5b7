// Starts the fauxqs SQS emulator on a loopback port (FAUXQS_PORT, 0: a free one) and prints one line:
//   FAUXQS_PORT=<port>
// It stops when its standard input closes (the parent process exited or closed the pipe) or on
// SIGTERM/SIGINT, so no emulator outlives the demo or the tests that started it.
//
// This file, package.json and package-lock.json are all `bulkdispatch demo` needs: they ship inside the
// tool (embedded in BulkDispatch.Sandbox) and are installed with `npm ci` into a per-user cache. The two
// test aids beside them are loaded only when their variable is set, and only the tests set them.
import { startFauxqs } from "fauxqs";

const requested = Number(process.env.FAUXQS_PORT ?? "0");
const requiredKey = process.env.FAUXQS_REQUIRED_ACCESS_KEY_ID; // test aid: access-key-guard.mjs
const stateFile = process.env.FAUXQS_STATE_FILE; // test aid: state.mjs
const state = stateFile ? await import("./state.mjs") : null;

const server = await startFauxqs({ port: requiredKey ? 0 : requested, logger: false, host: "localhost", defaultRegion: "us-west-2" });
await state?.restoreState(server);
const guard = requiredKey
  ? await (await import("./access-key-guard.mjs")).startAccessKeyGuard({ targetPort: server.port, port: requested, requiredAccessKeyId: requiredKey })
  : null;
process.stdout.write(`FAUXQS_PORT=${guard?.port ?? server.port}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try { await (state ? state.stopSavingState(server) : server.stop()); } finally { process.exit(0); }
}
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
