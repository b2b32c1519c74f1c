import { ProviderServer } from '../../pipeline/dub/index.ts';
import { numberOption, parseOptions } from '../args.ts';

export const summary = 'serve the embedded offline translator over the dub-provider WebSocket protocol';

const usage = `usage: lipsync translate-server [--port N] [--host ADDR] [--max-sessions N]
  --port N           TCP port (default 8765; 0 = any free port)
  --host ADDR        listen address (default 127.0.0.1)
  --max-sessions N   concurrent sessions (default 8)
Protocol: docs/provider-protocol.md (lipsync-dub/1). Stops on SIGINT / SIGTERM.`;

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(
    argv,
    { port: { type: 'string' }, host: { type: 'string' }, 'max-sessions': { type: 'string' } },
    usage,
  );
  if (!opts) return 0;
  const server = await ProviderServer.listen({
    port: numberOption('port', opts.port, 8765, 0, 65535),
    host: opts.host ?? '127.0.0.1',
    maxSessions: numberOption('max-sessions', opts['max-sessions'], 8, 1, 1000),
  });
  server.on('session', ({ sessionId }) => console.error(`translate-server: session ${sessionId} opened`));
  server.on('sessionClose', ({ sessionId }) => console.error(`translate-server: session ${sessionId} closed`));
  console.log(`translate-server: listening on ${server.url} (lipsync-dub/1)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
