/**
 * Footprint: a till on the folder transport never loads the libraries only
 * other transports or options use (undici for KKMTransfer, basic-ftp for FTP,
 * saxes for the EquipmentService XML, bcryptjs for basic auth on the control
 * API), nor node-cron, which only a cron schedule needs (the default pull
 * schedule is an interval), nor the YAML parser and the config schema and loader, which only
 * the short-lived child that reads the config for the daemon loads (src/config/child-load.ts):
 * each costs memory for as long as the agent runs. The daemon delivers one
 * receipt and is stopped; it runs with a module hook (NODE_OPTIONS --import) that writes down every module file it
 * loads with the loading process's id; chokidar, which it does use, shows that the hook sees packages,
 * and the config child's lines show that it sees that child, which does load the config's modules.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { it } from 'node:test';
import { dropReport, makeWorkspace, reportFile, startAgent, stopDaemon } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';

const NOT_AT_IDLE = ['undici', 'basic-ftp', 'saxes', 'bcryptjs', 'node-cron', 'yaml'];
/** The agent's own modules that read and check the config file (src/config/). */
const CONFIG_MODULES = ['/src/config/load.ts', '/src/config/schema.ts'];

it('an idle folder-transport agent has loaded none of undici, basic-ftp, saxes, bcryptjs, node-cron, yaml, nor the config schema and loader', async () => {
  const ws = await makeWorkspace({ schedule: { pull: '30s' } });
  try {
    const list = join(ws.root, 'loaded.txt');
    const hooks = join(ws.root, 'hooks.mjs');
    await fs.writeFile(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, process.pid + ' ' + url + '\\n'); return next(url, context); }\n`);
    const register = join(ws.root, 'register.mjs');
    await fs.writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const agent = await startAgent(ws.configFile, { NODE_OPTIONS: `--import=${pathToFileURL(register).href}` });
    // One receipt taken over and delivered to the share: the agent has done its work and is idle again.
    await dropReport(ws.till, 'r1.rep', reportFile([{ receipt: 1 }], 1).data);
    await waitFor(() => agent.output().includes('push.delivered'), 'the receipt delivered');
    await stopDaemon(agent, ws.configFile);
    const lines = (await fs.readFile(list, 'utf8')).split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]);
    const loaded = lines.filter(([pid]) => pid === String(agent.child.pid)).map(([, url]) => url);
    const inChild = lines.filter(([pid]) => pid !== String(agent.child.pid)).map(([, url]) => url);
    assert.ok(loaded.some((u) => u.includes('/node_modules/chokidar/')), 'the hook sees the packages the agent loads');
    assert.ok(inChild.some((u) => u.includes('/node_modules/yaml/')) && CONFIG_MODULES.every((m) => inChild.some((u) => u.endsWith(m))), 'the config child loads the YAML parser and the schema');
    const packages = NOT_AT_IDLE.filter((p) => loaded.some((u) => u.includes(`/node_modules/${p}/`)));
    assert.deepEqual(packages, [], `loaded at idle: ${packages.join(', ')}`);
    const config = CONFIG_MODULES.filter((m) => loaded.some((u) => u.endsWith(m)));
    assert.deepEqual(config, [], `the daemon loaded the config modules: ${config.join(', ')}`);
  } finally {
    await ws.cleanup();
  }
});
