// Starts the fauxqs SQS emulator on a free loopback port and prints one line:
//   FAUXQS_PORT=<port>
// It stops when its standard input closes (the parent test process exited or
// closed the pipe) or on SIGTERM/SIGINT, so no emulator outlives its tests.
import { startFauxqs } from "fauxqs";
import { startAccessKeyGuard } from "./access-key-guard.mjs"; // opt-in: FAUXQS_REQUIRED_ACCESS_KEY_ID
import { restoreState, stopSavingState } from "./state.mjs"; // opt-in: FAUXQS_STATE_FILE

const requested = Number(process.env.FAUXQS_PORT ?? "0");
const requiredKey = process.env.FAUXQS_REQUIRED_ACCESS_KEY_ID;
const server = await startFauxqs({ port: requiredKey ? 0 : requested, logger: false, host: "localhost", defaultRegion: "us-west-2" });
await restoreState(server);
const guard = requiredKey ? await startAccessKeyGuard({ targetPort: server.port, port: requested, requiredAccessKeyId: requiredKey }) : null;
process.stdout.write(`FAUXQS_PORT=${guard?.port ?? server.port}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try { await stopSavingState(server); } finally { process.exit(0); }
}
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
