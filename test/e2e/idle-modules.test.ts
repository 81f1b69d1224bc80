/**
 * Footprint: a till on the folder transport never loads the libraries only
 * other transports or options use (undici for KKMTransfer, basic-ftp for FTP,
 * saxes for the EquipmentService XML, bcryptjs for basic auth on the control
 * API), nor node-cron, which only a cron schedule needs (the default pull
 * schedule is an interval), nor Node's TLS modules, which only a metrics endpoint over TLS needs:
 * each costs memory for as long as the agent runs. The daemon delivers one
 * receipt and is stopped; it runs with a module hook (NODE_OPTIONS --import) that writes down every module file it
 * loads; chokidar, which it does use, shows that the hook sees packages.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { it } from 'node:test';
import { dropReport, makeWorkspace, reportFile, startAgent, stopDaemon } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';

const NOT_AT_IDLE = ['undici', 'basic-ftp', 'saxes', 'bcryptjs', 'node-cron'];
const BUILTINS_NOT_AT_IDLE = ['node:tls', 'node:https'];

it('an idle folder-transport agent has loaded none of undici, basic-ftp, saxes, bcryptjs, node-cron, node:tls, node:https', async () => {
  const ws = await makeWorkspace({ schedule: { pull: '30s' } });
  try {
    const list = join(ws.root, 'loaded.txt');
    const hooks = join(ws.root, 'hooks.mjs');
    await fs.writeFile(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, context); }\n`);
    const register = join(ws.root, 'register.mjs');
    await fs.writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const agent = await startAgent(ws.configFile, { NODE_OPTIONS: `--import=${pathToFileURL(register).href}` });
    // One receipt taken over and delivered to the share: the agent has done its work and is idle again.
    await dropReport(ws.till, 'r1.rep', reportFile([{ receipt: 1 }], 1).data);
    await waitFor(() => agent.output().includes('push.delivered'), 'the receipt delivered');
    await stopDaemon(agent, ws.configFile);
    const loaded = (await fs.readFile(list, 'utf8')).split('\n').filter(Boolean);
    assert.ok(loaded.some((u) => u.includes('/node_modules/chokidar/')), 'the hook sees the packages the agent loads');
    const packages = NOT_AT_IDLE.filter((p) => loaded.some((u) => u.includes(`/node_modules/${p}/`)));
    assert.deepEqual(packages, [], `loaded at idle: ${packages.join(', ')}`);
    assert.ok(loaded.includes('node:http'), 'the hook sees the built-in modules the agent imports (node:http, for the control socket)');
    const builtins = BUILTINS_NOT_AT_IDLE.filter((b) => loaded.includes(b));
    assert.deepEqual(builtins, [], `loaded at idle: ${builtins.join(', ')}`);
  } finally {
    await ws.cleanup();
  }
});
