import { it } from 'node:test';
import { startProftpd } from '../helpers/proftpd.js';
it('hang', async () => {
  const s = await startProftpd();
  console.log('STARTED', s.port);
  await new Promise((r) => setTimeout(r, 60_000));
});
