// Starts the fauxqs SQS emulator on a free loopback port and prints one line:
//   FAUXQS_PORT=<port>
// It stops when its standard input closes (the parent test process exited or
// closed the pipe) or on SIGTERM/SIGINT, so no emulator outlives its tests.
import { startFauxqs } from "fauxqs";
import { startAccessKeyGuard } from "./access-key-guard.mjs";

const requested = Number(process.env.FAUXQS_PORT ?? "0");
const requiredKey = process.env.FAUXQS_REQUIRED_ACCESS_KEY_ID; // opt-in: see access-key-guard.mjs
const server = await startFauxqs({ port: requiredKey ? 0 : requested, logger: false, host: "localhost", defaultRegion: "us-west-2" });
const guard = requiredKey ? await startAccessKeyGuard({ targetPort: server.port, port: requested, requiredAccessKeyId: requiredKey }) : null;
process.stdout.write(`FAUXQS_PORT=${guard?.port ?? server.port}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try { await server.stop(); } finally { process.exit(0); }
}
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
