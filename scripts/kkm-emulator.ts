/**
 * The KKMTransfer back-office emulator on the command line:
 *   npm run emulator -- --dir var/emulator --port 8080 [--host 127.0.0.1]
 *        [--user kassa --password secret] [--prefix /trade/hs/KKMTransfer]
 *        [--fault delay:500] [--fault lost-reply,on=send,times=1] ...
 * Drop *.spr / *.flr files into DIR/outbox (or DIR/outbox/POS{n}); reports
 * land in DIR/received/POS{n}. Stops on SIGINT/SIGTERM.
 */
import { resolve } from 'node:path';
import { consoleLogger } from './console-logger.js';
import { parseEmulatorArgs } from './emulator-args.js';
import { parseFault, FAULT_KINDS } from './kkm-emulator/faults.js';
import { startKkmEmulator } from './kkm-emulator/server.js';

const USAGE = `usage: npm run emulator -- --dir DIR [--port 8080] [--host 127.0.0.1] [--user U --password P]
                            [--prefix /hs/KKMTransfer] [--fault SPEC]...
  SPEC = kind[:arg][,times=N][,p=0..1][,on=receive|send]
  kinds: ${FAULT_KINDS.join(', ')}   e.g. delay:500  http500,times=2  errcode2:Период закрыт,on=send  lost-reply,on=send,times=1`;

async function main(): Promise<number> {
  const values = parseEmulatorArgs({
    dir: { type: 'string' },
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    user: { type: 'string' },
    password: { type: 'string' },
    prefix: { type: 'string', default: '/hs/KKMTransfer' },
    fault: { type: 'string', multiple: true, default: [] },
  }, USAGE);
  if (typeof values === 'number') return values;
  if (!values.dir) {
    console.error(`--dir is required\n${USAGE}`);
    return 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port "${values.port}" is not a port number`);
    return 2;
  }
  let faults;
  try {
    faults = (values.fault ?? []).map(parseFault);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const emu = await startKkmEmulator({
    dir: resolve(values.dir),
    port,
    host: values.host,
    user: values.user,
    password: values.password,
    prefix: values.prefix,
    faults,
    log: consoleLogger(),
  });
  console.log(`KKMTransfer emulator on ${emu.url} (folder ${emu.dir}${values.user ? ', basic auth' : ''}${faults.length ? `, ${faults.length} fault(s)` : ''})`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await emu.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
