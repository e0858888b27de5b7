// Starts the fauxqs SQS emulator on a free loopback port and prints one line:
//   FAUXQS_PORT=<port>
// It stops when its standard input closes (the parent test process exited or
// closed the pipe) or on SIGTERM/SIGINT, so no emulator outlives its tests.
import { startFauxqs } from "fauxqs";
import { restoreState, stopSavingState } from "./state.mjs"; // opt-in: FAUXQS_STATE_FILE

const requested = Number(process.env.FAUXQS_PORT ?? "0");
const server = await startFauxqs({ port: requested, logger: false, host: "localhost", defaultRegion: "us-west-2" });
await restoreState(server);
process.stdout.write(`FAUXQS_PORT=${server.port}\n`);

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
